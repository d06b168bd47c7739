// Test harness only (tests/web/test_private_page.py): shows a private proof's verdict the way
// api/static/app.js's show() does (same elements, ids and classes), for the screenshots; the
// check itself is PorVerify.verifyProofText, the page's own.
"use strict";
window.showPrivate = async function (text, root) {
  const out = document.getElementById("verify-result");
  out.dataset.verdict = "pending";
  const result = await PorVerify.verifyProofText(text, root);
  out.replaceChildren();
  const head = document.createElement("p");
  head.className = `verdict verdict-${result.verdict}`;
  head.id = "verify-verdict";
  const words = { verified: "VERIFIED", failed: "FAILED", malformed: "MALFORMED", unsupported: "NOT CHECKED HERE" };
  head.textContent = words[result.verdict] + (result.reason ? `: ${result.reason}` : "");
  out.appendChild(head);
  if (result.verdict === "verified") {
    const r = result.report;
    const p = document.createElement("p");
    p.textContent = `Your balances are included in round ${r.round} (leaf ${r.leafIndex}, ${r.pathLength} levels), checked in this browser against ${r.checkedAgainst} ${r.rootHash}.`;
    out.appendChild(p);
    const priv = document.createElement("p");
    priv.id = "verify-private";
    priv.textContent = `Private round: ${r.rangeProofsChecked} range proofs and every commitment sum checked in this browser (libsecp256k1-zkp). What this proof shows of others: ${r.reveals}.`;
    out.appendChild(priv);
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
  out.dataset.verdict = result.verdict;
};
