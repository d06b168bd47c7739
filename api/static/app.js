// The public page's behaviour: the charts (Chart.js, served by this app) and "verify my
// proof" (verify.js). Every value shown comes from the page's JSON data block or from the
// user's own proof; text goes in with textContent, never as HTML.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("por-data").textContent);
  const attestations = data.attestations || {};
  // The figures a chart shows: as signed where the round is attested, else as recomputed.
  const figures = (round) => (round.attestation && round.attestation.solvency.length
    ? round.attestation.solvency : round.solvency);
  const palette = ["#1f6feb", "#d29922", "#2da44e", "#cf222e", "#8250df", "#0a7ea4", "#bf3989", "#57606a"];

  // Ratios are exact decimal strings ("1.0532"); a chart needs a number, and the picture
  // does not need more precision than a float gives. The exact figures are in the tables.
  const pct = (ratio) => (ratio === null ? null : Number(ratio) * 100);

  function drawLatest() {
    const canvas = document.getElementById("chart-latest");
    if (!canvas || !data.current || typeof Chart === "undefined") return;
    const lines = figures(data.current);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: lines.map((l) => l.symbol),
        datasets: [
          { label: "liabilities (100%)", data: lines.map(() => 100), backgroundColor: "#8c959f" },
          { label: "reserves (% of liabilities)", data: lines.map((l) => pct(l.ratio) ?? 0), backgroundColor: "#2da44e" },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "% of liabilities" } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const l = lines[ctx.dataIndex];
                const exact = ctx.datasetIndex === 0 ? l.liabilities : (l.reserves ?? "not published");
                const units = exact === "not published" ? exact : PorVerify.formatUnits(exact, l.decimals);
                return `${ctx.dataset.label}: ${units} ${l.symbol}`;
              },
            },
          },
        },
      },
    });
    canvas.dataset.rendered = "true";
  }

  function drawHistory() {
    const canvas = document.getElementById("chart-history");
    if (!canvas || !data.history.length || typeof Chart === "undefined") return;
    const symbols = [];
    for (const r of data.history) for (const l of figures(r)) if (!symbols.includes(l.symbol)) symbols.push(l.symbol);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.history.map((r) => r.round),
        datasets: symbols.map((s, k) => ({
          label: s,
          borderColor: palette[k % palette.length],
          backgroundColor: palette[k % palette.length],
          data: data.history.map((r) => {
            const l = figures(r).find((x) => x.symbol === s);
            return l ? pct(l.ratio) : null;
          }),
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "reserves, % of liabilities" } } },
      },
    });
    canvas.dataset.rendered = "true";
  }

  // --- verify my proof ------------------------------------------------------------------

  const out = document.getElementById("verify-result");

  function show(result) {
    out.replaceChildren();
    out.dataset.verdict = result.verdict;
    const head = document.createElement("p");
    head.className = `verdict verdict-${result.verdict}`;
    head.id = "verify-verdict";
    const words = { verified: "VERIFIED", failed: "FAILED", malformed: "MALFORMED" };
    head.textContent = words[result.verdict] + (result.reason ? `: ${result.reason}` : "");
    out.appendChild(head);
    if (result.verdict !== "verified") return;
    const r = result.report;
    const p = document.createElement("p");
    p.textContent = `Your balances are included in round ${r.round} (leaf ${r.leafIndex}, ${r.pathLength} levels), checked in this browser against ${r.checkedAgainst} ${r.rootHash}.`;
    out.appendChild(p);
    const sig = document.createElement("p");
    sig.id = "verify-signature";
    sig.dataset.signature = r.signature || "none";
    if (r.signature === "verified") {
      const auditors = r.auditors && r.auditors.length ? `; co-signed by ${r.auditors.join(", ")}, also checked here` : "";
      sig.textContent = `The attestation's Ed25519 signature by the exchange key ${r.keyId.slice(0, 16)}… (${r.signer}) was checked in this browser${auditors}.`;
    } else if (r.signature === "unsupported") {
      sig.textContent = "This browser cannot check Ed25519 signatures: the attestation's signature is checked by the server only. Check it yourself with por-verify bundle.";
    }
    if (r.signature) out.appendChild(sig);
    const table = document.createElement("table");
    table.id = "verify-balances";
    const hrow = table.insertRow();
    for (const h of ["asset", "your balance"]) {
      const th = document.createElement("th");
      th.textContent = h;
      hrow.appendChild(th);
    }
    r.assets.forEach((a, k) => {
      const row = table.insertRow();
      row.insertCell().textContent = a.symbol;
      row.insertCell().textContent = PorVerify.formatUnits(r.amounts[k], a.decimals);
    });
    out.appendChild(table);
  }

  const lookup = (round) => (attestations[round]
    ? { attestation: attestations[round], keys: data.keys, auditors: data.auditors }
    : undefined);

  async function checkShownAttestation() {
    const slot = document.getElementById("attestation-browser-check");
    if (!slot || !data.current || !attestations[data.current.round]) return;
    const result = await PorVerify.checkAttestation(attestations[data.current.round], data.keys, data.auditors);
    if (result.verdict === "verified" && result.round !== data.current.round) {
      result.verdict = "failed";
      result.reason = `it attests round ${result.round}`;
    }
    if (result.verdict !== "verified") {
      slot.dataset.check = "failed";
      slot.textContent = `FAILED in your browser: ${result.reason}`;
    } else if (result.signature === "unsupported") {
      slot.dataset.check = "not-checked";
      slot.textContent = "This browser cannot check Ed25519 signatures: the signature is checked by the server only (por-verify bundle checks it).";
    } else {
      slot.dataset.check = "verified";
      const auditors = result.auditors.length ? `, and the co-signature of ${result.auditors.join(", ")}` : "";
      slot.textContent = `Checked in your browser too: the exchange key ${result.keyId.slice(0, 16)}… (${result.signer}) signed exactly these bytes${auditors} (Ed25519, WebCrypto).`;
    }
  }

  async function byToken(event) {
    event.preventDefault();
    const token = document.getElementById("token").value.trim();
    out.dataset.verdict = "pending";
    out.textContent = "Fetching your proof...";
    let response;
    try {
      response = await fetch(`/api/v1/proofs/${encodeURIComponent(token)}`, { cache: "no-store" });
    } catch (err) {
      out.dataset.verdict = "error";
      out.textContent = "The server could not be reached.";
      return;
    }
    if (response.status === 429) {
      out.dataset.verdict = "error";
      out.textContent = "Too many requests: wait a minute and try again.";
      return;
    }
    if (!response.ok) {
      out.dataset.verdict = "error";
      out.textContent = "No proof for this token. Check it, or drop your proof file instead.";
      return;
    }
    // Verified from the bytes as received, not from a re-encoding of them.
    show(await PorVerify.verifyProofBytes(new Uint8Array(await response.arrayBuffer()), lookup));
  }

  async function byFile(file) {
    out.dataset.verdict = "pending";
    show(await PorVerify.verifyProofBytes(new Uint8Array(await file.arrayBuffer()), lookup));
  }

  const form = document.getElementById("token-form");
  if (form) form.addEventListener("submit", byToken);
  const input = document.getElementById("proof-file");
  if (input) input.addEventListener("change", () => input.files[0] && byFile(input.files[0]));
  const drop = document.getElementById("drop-zone");
  if (drop) {
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      if (e.dataTransfer.files[0]) byFile(e.dataTransfer.files[0]);
    });
  }
  // A token in the link's fragment (#token=...) never reaches the server's logs.
  const m = /(?:^|[#&])token=([0-9A-Za-z_-]{1,200})/.exec(window.location.hash);
  if (m && form) {
    document.getElementById("token").value = m[1];
    history.replaceState(null, "", window.location.pathname);
  }

  drawLatest();
  drawHistory();
  checkShownAttestation();
  document.body.dataset.ready = "true";
})();
