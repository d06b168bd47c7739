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
  const pct = (ratio) => (ratio === null || ratio === undefined ? null : Number(ratio) * 100);
  // A margin round sets reserves against net liabilities (equity − debt, spec §13.6).
  const owedText = data.current && data.current.liabilities.scheme === "por-mst-margin"
    ? "reserves as % of what users are owed, net of their debts" : "reserves as % of what users are owed";
  const GREEN = "#1a7f37";
  const RED = "#b3141f";
  const INK = "#1f2328";

  // A plugin of this page's own: the 100 % line ("fully covered") across a chart, and each
  // bar's percentage written beside it (so no colour is the only signal).
  const hundredLine = {
    id: "hundredLine",
    afterDatasetsDraw(chart, _args, opts) {
      const { ctx, chartArea } = chart;
      const horizontal = chart.options.indexAxis === "y";
      const scale = horizontal ? chart.scales.x : chart.scales.y;
      const at = scale.getPixelForValue(100);
      ctx.save();
      ctx.strokeStyle = INK;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      if (horizontal) { ctx.moveTo(at, chartArea.top); ctx.lineTo(at, chartArea.bottom); } else { ctx.moveTo(chartArea.left, at); ctx.lineTo(chartArea.right, at); }
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = INK;
      ctx.font = "12px system-ui, sans-serif";
      if (horizontal) { ctx.textAlign = "center"; ctx.fillText("100 % = fully covered", at, chartArea.top - 6); } else { ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.fillText("100 % = fully covered", chartArea.left + 4, at + 4); }
      if (opts && opts.labels) {
        const meta = chart.getDatasetMeta(0);
        ctx.textAlign = "left";
        ctx.textBaseline = "middle";
        meta.data.forEach((bar, k) => {
          const text = opts.labels[k];
          if (!text) return;
          const inside = bar.x + 6 + ctx.measureText(text).width > chartArea.right;
          ctx.fillStyle = inside ? "#fff" : INK;
          ctx.textAlign = inside ? "right" : "left";
          ctx.fillText(text, inside ? bar.x - 6 : bar.x + 6, bar.y);
        });
      }
      ctx.restore();
    },
  };

  function drawLatest() {
    const canvas = document.getElementById("chart-latest");
    if (!canvas || !data.current || typeof Chart === "undefined") return;
    const lines = figures(data.current).filter((l) => l.ratio !== null && l.ratio !== undefined);
    const values = lines.map((l) => pct(l.ratio));
    const top = Math.max(130, Math.ceil(Math.max(0, ...values) / 10) * 10 + 30); // room for the labels
    const labels = lines.map((l, k) => `${values[k].toFixed(1)} % ${Number(l.shortfall) > 0 ? "✗ short" : "✓"}`);
    canvas.parentElement.style.height = `${Math.max(160, 60 + lines.length * 42)}px`;
    new Chart(canvas, {
      type: "bar",
      plugins: [hundredLine],
      data: {
        labels: lines.map((l) => l.symbol),
        datasets: [{
          label: "reserves, % of what users are owed",
          data: values,
          backgroundColor: lines.map((l) => (Number(l.shortfall) > 0 ? RED : GREEN)),
          barPercentage: 0.7,
        }],
      },
      options: {
        indexAxis: "y",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        layout: { padding: { top: 18, right: 8 } },
        scales: {
          x: { min: 0, max: top, title: { display: true, text: owedText, color: INK }, ticks: { color: INK, callback: (v) => `${v} %` } },
          y: { ticks: { color: INK, font: { weight: "bold" } } },
        },
        plugins: {
          hundredLine: { labels },
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const l = lines[ctx.dataIndex];
                const held = l.reserves === null ? "not published" : `${PorVerify.formatUnits(l.reserves, l.decimals)} ${l.symbol}`;
                return `${held} held for ${PorVerify.formatUnits(l.liabilities, l.decimals)} ${l.symbol} owed (${values[ctx.dataIndex].toFixed(2)} %)`;
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
    if (data.history.length < 2) {
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = "The history chart appears from the second round on.";
      canvas.parentElement.replaceWith(note);
      return;
    }
    const symbols = [];
    for (const r of data.history) for (const l of figures(r)) if (!symbols.includes(l.symbol)) symbols.push(l.symbol);
    const dashes = [[], [8, 4], [2, 3], [12, 4, 2, 4]];
    const shapes = ["circle", "rect", "triangle", "rectRot", "star", "crossRot"];
    const series = symbols.map((s) => data.history.map((r) => {
      const l = figures(r).find((x) => x.symbol === s);
      return l ? pct(l.ratio) : null;
    }));
    const all = series.flat().filter((v) => v !== null);
    const top = Math.max(120, Math.ceil(Math.max(0, ...all) / 10) * 10 + 10);
    const low = Math.max(0, Math.min(90, Math.floor(Math.min(...all) / 10) * 10 - 10));
    new Chart(canvas, {
      type: "line",
      plugins: [hundredLine],
      data: {
        labels: data.history.map((r) => r.round),
        datasets: symbols.map((s, k) => ({
          label: s,
          borderColor: palette[k % palette.length],
          backgroundColor: palette[k % palette.length],
          borderDash: dashes[k % dashes.length],
          pointStyle: shapes[k % shapes.length],
          pointRadius: 4,
          borderWidth: 2,
          spanGaps: true,
          data: series[k],
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { min: low, max: top, title: { display: true, text: "reserves, % of what users are owed", color: INK }, ticks: { color: INK, callback: (v) => `${v} %` } },
          x: { ticks: { color: INK } },
        },
        plugins: {
          legend: { labels: { color: INK, usePointStyle: true } },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${ctx.parsed.y === null ? "—" : ctx.parsed.y.toFixed(2)} %` } },
        },
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
    const words = { verified: "VERIFIED", failed: "FAILED", malformed: "MALFORMED",
                    unsupported: "NOT CHECKED HERE" };
    head.textContent = words[result.verdict] + (result.reason ? `: ${result.reason}` : "");
    out.appendChild(head);
    if (result.verdict !== "verified") return;
    const r = result.report;
    const p = document.createElement("p");
    p.textContent = `Your ${r.margin ? "positions are" : "balances are"} included in round ${r.round} (leaf ${r.leafIndex}, ${r.pathLength} levels), checked in this browser against ${r.checkedAgainst} ${r.rootHash}.`;
    out.appendChild(p);
    const sig = document.createElement("p");
    sig.id = "verify-signature";
    sig.dataset.signature = r.signature || "none";
    if (r.signature === "verified") {
      const auditors = r.auditors && r.auditors.length ? `; co-signed by ${r.auditors.join(", ")}, also checked here` : "";
      const pinNote = r.pinned ? " The key list contains the key you pinned." : "";
      sig.textContent = `The exchange's signed statement (Ed25519, by the key ${r.keyId.slice(0, 16)}…, ${r.signer}) was checked in this browser${auditors}.${pinNote}`;
    } else if (r.signature === "unsupported") {
      sig.textContent = "This browser cannot check Ed25519 signatures: the attestation's signature is checked by the server only. Check it yourself with por-verify bundle.";
    }
    if (r.signature) out.appendChild(sig);
    if (r.private) { // a private round (spec §16.15): what was checked, what the proof reveals
      const priv = document.createElement("p");
      priv.id = "verify-private";
      priv.textContent = `Private round: ${r.rangeProofsChecked} range proofs and every commitment sum checked in this browser (libsecp256k1-zkp). What this proof shows of others: ${r.reveals}.`;
      out.appendChild(priv);
    }
    if (r.margin) {
      showMargin(r);
      return;
    }
    const table = document.createElement("table");
    table.id = "verify-balances";
    table.createCaption().textContent = "Your balances in this round, in coin units";
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

  // A value in units of 10^-V of the quote, shown to the cent, rounded down (the exact
  // integers are in the title); never a float.
  function money(value, decimals, quote) {
    const exact = PorVerify.formatUnits(value, decimals);
    const [whole, frac = ""] = exact.split(".");
    const cents = decimals ? `.${frac.slice(0, 2).padEnd(2, "0")}` : "";
    return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${cents} ${quote}`;
  }

  // A margin proof: the user's own rule (checked in this browser) and their positions.
  function showMargin(r) {
    const rule = document.createElement("p");
    rule.id = "verify-rule";
    const debt = BigInt(r.rule.debt);
    rule.textContent = debt === 0n
      ? `You owe nothing in this round: your holdings are yours in full (the round's prices and haircuts are in risk.json, hash ${r.riskHash.slice(0, 16)}…).`
      : `Your debt is covered by your own collateral, checked in this browser at this round's prices and haircuts: collateral after haircuts ${money(r.rule.collateral, r.valueDecimals, r.quote)} ≥ debt ${money(r.rule.debt, r.valueDecimals, r.quote)}.`;
    rule.title = `exact, in units of 10^-${r.valueDecimals} ${r.quote}: haircut collateral ${r.rule.collateral}, debt ${r.rule.debt}; risk hash ${r.riskHash}`;
    out.appendChild(rule);
    const table = document.createElement("table");
    table.id = "verify-balances";
    table.className = "reflow";
    table.createCaption().textContent = "Your positions in this round, in coin units";
    const hrow = table.createTHead().insertRow();
    const body = table.createTBody();
    for (const h of ["asset", "you hold", "you owe", "pledged as collateral", `price (${r.quote})`]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      hrow.appendChild(th);
    }
    r.assets.forEach((a, k) => {
      const row = body.insertRow();
      const p = r.positions[k];
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = a.symbol;
      row.appendChild(th);
      for (const [label, text] of [["you hold", PorVerify.formatUnits(p.equity, a.decimals)],
        ["you owe", PorVerify.formatUnits(p.debt, a.decimals)],
        ["pledged as collateral", PorVerify.formatUnits(p.collateral, a.decimals)],
        [`price (${r.quote})`, r.prices[k]]]) {
        const cell = row.insertCell();
        cell.className = "num";
        cell.dataset.label = label;
        cell.textContent = text;
      }
    });
    const scroll = document.createElement("div");
    scroll.className = "scroll reflow";
    scroll.appendChild(table);
    out.appendChild(scroll);
  }

  // The key id the user pinned: from the link (#pin=KEY_ID), then remembered in this
  // browser for this site; every check below requires it to be in the key list's chain.
  const PIN_STORE = "por-pinned-key";
  let pin = null;
  const pinned = /(?:^|[#&])pin=([0-9a-f]{64})(?:&|$)/.exec(window.location.hash);
  try {
    if (pinned) window.localStorage.setItem(PIN_STORE, pinned[1]);
    pin = window.localStorage.getItem(PIN_STORE);
  } catch (err) {
    pin = pinned ? pinned[1] : null; // storage refused (private mode): the link's pin only
  }
  const pinState = document.getElementById("pin-state");
  if (pinState) {
    pinState.textContent = pin
      ? `Pinned in this browser: ${pin.slice(0, 16)}…; the key list must contain it.`
      : "No key is pinned in this browser: the key list is trusted as this server gives it.";
  }

  const lookup = (round) => (attestations[round]
    ? { attestation: attestations[round], keys: data.keys, auditors: data.auditors, keylist: data.keylist, pin }
    : undefined);

  async function checkShownAttestation() {
    const slot = document.getElementById("attestation-browser-check");
    if (!slot || !data.current || !attestations[data.current.round]) return;
    const result = await PorVerify.checkAttestation(attestations[data.current.round], data.keys, data.auditors, data.keylist, pin);
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
      const pinNote = result.pinned === "signer" ? " It is the key you pinned."
        : (result.pinned === "chain" ? " It chains by signed rotations to the key you pinned." : "");
      slot.textContent = `Checked in your browser too: the exchange key ${result.keyId.slice(0, 16)}… (${result.signer}) signed exactly these bytes${auditors} (Ed25519, WebCrypto), and the key list's rotation chain holds.${pinNote}`;
    }
  }

  async function byToken(event) {
    if (event) event.preventDefault();
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
  // A token in the link's fragment (#token=...) never reaches the server's logs; it is
  // verified at once, and taken out of the address bar (and so out of the history).
  const m = /(?:^|[#&])token=([0-9A-Za-z_-]{1,200})/.exec(window.location.hash);
  let fromLink = null;
  if (m && form) {
    document.getElementById("token").value = m[1];
    history.replaceState(null, "", window.location.pathname);
    fromLink = byToken(null).then(() => {
      const section = document.getElementById("verify");
      if (section) section.scrollIntoView();
    });
  }

  drawLatest();
  drawHistory();
  Promise.all([checkShownAttestation(), fromLink]).finally(() => {
    document.body.dataset.ready = "true";
  });
})();
