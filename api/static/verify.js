// The page's own verifier of a user's inclusion proof (docs/spec.md §1-8, scheme por-mst v1),
// checked against the round's signed attestation (§13.1, §12.3).
//
// It runs in the user's browser and trusts nothing the server says but the exchange's
// published key list: it parses the proof as strictly as verifier/liabilities/proof.py (unknown, missing
// or repeated fields, floats, wrong widths, out-of-range amounts and anything it cannot
// check are "malformed"), recomputes the user's commitment, the leaf and every parent with
// WebCrypto SHA-256 and exact BigInt u128 sums, and compares the root. Verdicts are those of
// `por-verify proof`: "verified" (exit 0), "failed" (exit 1), "malformed" (exit 2); tests/web
// check both agree on every committed vector. On the page the root comes from the round's
// attestation: its exact signed payload is parsed strictly, its Ed25519 signature checked
// with WebCrypto against the key the payload names (the key's id must be its SHA-256), and
// the proof's round, root hash, assets, leaf count and totals must be the attested ones.
// Given the key list's exact text, its rotation chain is checked here too (both keys sign
// each rotation), the signing key must be valid at the signing time, and a key id the user
// pinned (#pin=KEY_ID, or remembered in this browser) must be in the chain.
// A margin proof (docs/spec.md §15, scheme por-mst-margin v1, as verifier/proof.py's
// MarginInclusionProof) is checked the same way: its risk parameters parsed as strictly as
// verifier/risk.py and hashed from their RFC 8785 bytes, the user's own rule (collateral at
// most equity; Binance's tiered haircut of the collateral value, rounded down, at least the
// debt value, in exact BigInt arithmetic), equity, debt and collateral sums at every node,
// and the root that binds the risk hash; against a version 3 (margin) attestation, whose
// totals and risk hash must be the proof's.
// A private proof (spec §16, scheme por-mst-private) is checked by verify-private.js with
// libsecp256k1-zkp (WebAssembly) and noble's secp256k1 points, all loaded from beside this
// file only when one is checked (spec §16.15); on the page it is anchored by the round's
// version 4 (private) attestation (§13.7), every field of which must be the proof's root's.
// Needs nonprintable.js (Python's isprintable table) first.
"use strict";
(function (global) {
  class Malformed extends Error {}
  class Failed extends Error {}
  // A proof this page cannot check (the private-proof libraries did not load): never a pass.
  class Unsupported extends Error {}
  const PRIVATE_SCHEME = "por-mst-private";

  const SCHEME = "por-mst";
  const VERSION = 1n;
  const HASH_SIZE = 32;
  const AMOUNT_SIZE = 16;
  const MAX_AMOUNT = (1n << 128n) - 1n;
  const MAX_ASSETS = 64;
  const MAX_DECIMALS = 38n;
  const MAX_USER_ID_BYTES = 128;
  const MAX_LEVELS = 40n;
  const MAX_DEPTH = 64;
  const utf8 = (s) => new TextEncoder().encode(s);
  // Domain-separation tags, spec §2.
  const TAG_USER = utf8("POR-MST-V1:USER:");
  const TAG_LEAF = utf8("POR-MST-V1:LEAF:");
  const TAG_NODE = utf8("POR-MST-V1:NODE:");
  const TAG_ROOT = utf8("POR-MST-V1:ROOT:");
  const ROUND_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
  const SYMBOL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/;
  const UINT_RE = /^(0|[1-9][0-9]{0,38})$/;
  const HEX_RE = /^[0-9a-f]*$/;
  // Margin scheme, spec §15.1-15.5.
  const MARGIN_SCHEME = "por-mst-margin";
  const TAG_MARGIN_LEAF = utf8("POR-MRG-V1:LEAF:");
  const TAG_MARGIN_NODE = utf8("POR-MRG-V1:NODE:");
  const TAG_MARGIN_ROOT = utf8("POR-MRG-V1:ROOT:");
  const TAG_RISK = utf8("POR-RISK-V1:PRM:");
  const DECIMAL_RE = /^(0|[1-9][0-9]{0,59})(\.[0-9]{0,37}[1-9])?$/;
  const QUOTE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/;
  const MAX_VALUE_DECIMALS = 38n;
  const MAX_TIERS = 32;

  // --- strict JSON: what verifier/encoding/strictjson.py accepts, and nothing else ---------------

  function parseJson(text) {
    let i = 0;
    const n = text.length;
    const fail = (why) => { throw new Malformed(`not valid JSON: ${why} at character ${i}`); };
    const ws = () => { while (i < n && " \t\n\r".includes(text[i])) i++; };
    function value(depth) {
      if (i >= n) fail("expected a value");
      const c = text[i];
      if (c === "{" || c === "[") {
        if (depth + 1 > MAX_DEPTH) throw new Malformed(`JSON nested deeper than ${MAX_DEPTH} levels`);
        return c === "{" ? object(depth + 1) : array(depth + 1);
      }
      if (c === '"') return string();
      if (c === "-" || (c >= "0" && c <= "9")) return number();
      for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
        if (text.startsWith(word, i)) { i += word.length; return v; }
      }
      for (const word of ["NaN", "Infinity", "-Infinity"]) {
        if (text.startsWith(word, i)) throw new Malformed(`JSON constant ${word} is not allowed`);
      }
      return fail("unexpected character");
    }
    function object(depth) {
      i++;
      const out = new Map();
      ws();
      if (text[i] === "}") { i++; return out; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        ws();
        const v = value(depth);
        if (out.has(key)) throw new Malformed(`JSON object repeats the key ${JSON.stringify(key)}`);
        out.set(key, v);
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return out; }
        fail("expected ',' or '}'");
      }
    }
    function array(depth) {
      i++;
      const out = [];
      ws();
      if (text[i] === "]") { i++; return out; }
      for (;;) {
        ws();
        out.push(value(depth));
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return out; }
        fail("expected ',' or ']'");
      }
    }
    function string() {
      i++;
      let out = "";
      for (;;) {
        if (i >= n) fail("unterminated string");
        const c = text[i];
        const code = c.charCodeAt(0);
        if (c === '"') { i++; return out; }
        if (code < 0x20) fail("control character in a string");
        if (c !== "\\") { out += c; i++; continue; }
        const e = text[i + 1];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e !== undefined && Object.prototype.hasOwnProperty.call(simple, e)) {
          out += simple[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          fail("invalid escape");
        }
      }
    }
    function number() {
      const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(text.slice(i, i + 5000));
      if (!m) fail("invalid number");
      if (m[2] !== undefined || m[3] !== undefined) {
        throw new Malformed(`JSON number ${m[0]} is not allowed: amounts travel as decimal strings`);
      }
      i += m[0].length;
      if (m[0].replace("-", "").length > 4300) fail("integer too long"); // CPython's limit
      return BigInt(m[0]);
    }
    ws();
    const v = value(0);
    ws();
    if (i !== n) fail("extra data");
    return v;
  }

  // --- field readers (verifier/encoding/strictjson.py) -----------------------------------------------

  function obj(v, where, required) {
    if (!(v instanceof Map)) throw new Malformed(`${where}: expected an object`);
    const missing = required.filter((k) => !v.has(k));
    if (missing.length) throw new Malformed(`${where}: missing field(s) ${missing.join(", ")}`);
    const unknown = [...v.keys()].filter((k) => !required.includes(k));
    if (unknown.length) throw new Malformed(`${where}: unknown field(s) ${unknown.join(", ")}`);
    return v;
  }
  function str(v, where) {
    if (typeof v !== "string") throw new Malformed(`${where}: expected a string`);
    return v;
  }
  function integer(v, where) {
    if (typeof v !== "bigint") throw new Malformed(`${where}: expected an integer`);
    return v;
  }
  function arr(v, where) {
    if (!Array.isArray(v)) throw new Malformed(`${where}: expected an array`);
    return v;
  }
  function hashHex(v, where) {
    const t = str(v, where);
    if (t.length !== 2 * HASH_SIZE || !HEX_RE.test(t)) {
      throw new Malformed(`${where}: expected ${2 * HASH_SIZE} lowercase hex digits`);
    }
    const out = new Uint8Array(HASH_SIZE);
    for (let k = 0; k < HASH_SIZE; k++) out[k] = parseInt(t.slice(2 * k, 2 * k + 2), 16);
    return out;
  }
  function amount(v, where) {
    const t = str(v, where);
    if (!UINT_RE.test(t)) throw new Malformed(`${where}: expected a decimal string of base units`);
    const x = BigInt(t);
    if (x > MAX_AMOUNT) throw new Malformed(`${where}: ${t} is out of range (at most 2^128-1)`);
    return x;
  }
  function amounts(v, where, count) {
    const items = arr(v, where);
    if (items.length !== count) {
      throw new Malformed(`${where}: expected ${count} amounts (one per asset), found ${items.length}`);
    }
    return items.map((x, k) => amount(x, `${where}[${k}]`));
  }
  function isPrintable(s) {
    const table = global.POR_NONPRINTABLE;
    if (!Array.isArray(table)) throw new Malformed("nonprintable.js is not loaded");
    for (const ch of s) {
      const cp = ch.codePointAt(0);
      let lo = 0;
      let hi = table.length / 2;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (table[2 * mid + 1] < cp) lo = mid + 1;
        else hi = mid;
      }
      if (lo < table.length / 2 && table[2 * lo] <= cp) return false;
    }
    return true;
  }
  function levelsFor(count, where) {
    if (count < 1n || (count & (count - 1n)) !== 0n || count > 1n << MAX_LEVELS) {
      throw new Malformed(`${where}: expected a power of two, 1..2^40`);
    }
    return count.toString(2).length - 1;
  }

  function asset(symbol, decimals) {
    if (!SYMBOL_RE.test(symbol)) throw new Malformed(`asset symbol ${symbol}: not a valid symbol`);
    if (decimals < 0n || decimals > MAX_DECIMALS) throw new Malformed(`asset ${symbol}: decimals out of range`);
    return { symbol, decimals: Number(decimals) };
  }
  function checkAssetList(assets) {
    if (assets.length < 1 || assets.length > MAX_ASSETS) throw new Malformed("asset list: expected 1..64 assets");
    if (new Set(assets.map((a) => a.symbol)).size !== assets.length) throw new Malformed("asset list: a symbol appears twice");
    return assets;
  }
  function parseAssets(v, where) {
    return checkAssetList(arr(v, where).map((item, k) => {
      const a = obj(item, `${where}[${k}]`, ["symbol", "decimals"]);
      return asset(str(a.get("symbol"), `${where}[${k}].symbol`), integer(a.get("decimals"), `${where}[${k}].decimals`));
    }));
  }

  // The proof's scheme decides which rules apply (spec §15.1), as por-verify proof does.
  function parseAnyProof(text) {
    const doc = parseJson(text);
    if (doc instanceof Map && doc.get("scheme") === MARGIN_SCHEME) return parseMarginProof(doc);
    // A private proof (spec §16) is parsed and checked by verify-private.js, loaded with its
    // libraries only now (verifyPrivateProof).
    if (doc instanceof Map && doc.get("scheme") === PRIVATE_SCHEME) return { private: true, doc, text };
    return parseProof(doc);
  }

  // The fields a spot and a margin proof share (spec §8.2, §15.7), checked in the same
  // order as verifier/liabilities/proof.py; `sumsOf` reads one node's sums (amounts or
  // positions).
  function parseProofBody(raw, what, k, sumsOf) {
    const userId = str(raw.get("user_id"), `${what}.user_id`);
    if (!userId || !isPrintable(userId)) throw new Malformed(`${what}.user_id: must be non-empty printable text`);
    if (utf8(userId).length > MAX_USER_ID_BYTES) throw new Malformed(`${what}.user_id: more than 128 bytes`);
    const root = obj(raw.get("root"), `${what}.root`, ["hash", "sums", "leaf_count"]);
    const leafCount = integer(root.get("leaf_count"), `${what}.root.leaf_count`);
    levelsFor(leafCount, `${what}.root.leaf_count`);
    const path = arr(raw.get("path"), `${what}.path`).map((item, s) => {
      const where = `${what}.path[${s}]`;
      const step = obj(item, where, ["side", "hash", "sums"]);
      const side = str(step.get("side"), `${where}.side`);
      if (side !== "left" && side !== "right") throw new Malformed(`${where}.side: expected 'left' or 'right'`);
      return { side, hash: hashHex(step.get("hash"), `${where}.hash`), sums: sumsOf(step.get("sums"), `${where}.sums`, k) };
    });
    const round = str(raw.get("round"), `${what}.round`);
    if (!ROUND_RE.test(round)) throw new Malformed(`round id ${round}: not a valid round id`);
    return { userId, root, leafCount, path, round };
  }

  function parseProof(doc) {
    const what = "proof";
    const raw = obj(doc, what,
      ["scheme", "version", "round", "assets", "user_id", "salt", "amounts", "path", "root"]);
    const scheme = str(raw.get("scheme"), `${what}.scheme`);
    const version = integer(raw.get("version"), `${what}.version`);
    if (scheme !== SCHEME || version !== VERSION) {
      throw new Malformed(`${what}: scheme ${scheme} version ${version} is not known to this verifier`);
    }
    const assets = parseAssets(raw.get("assets"), `${what}.assets`);
    const k = assets.length;
    const { userId, root, leafCount, path, round } = parseProofBody(raw, what, k, amounts);
    return {
      round, assets, userId, path, leafCount,
      salt: hashHex(raw.get("salt"), `${what}.salt`),
      amounts: amounts(raw.get("amounts"), `${what}.amounts`, k),
      rootHash: hashHex(root.get("hash"), `${what}.root.hash`),
      rootSums: amounts(root.get("sums"), `${what}.root.sums`, k),
    };
  }


  // --- margin proofs: risk parameters, positions (spec §15.2, §15.5, §15.7) ---------------

  // The decimal string `v` times 10^scale, which must be an exact integer (verifier/risk.py).
  function scaled(v, scale, where) {
    const t = str(v, where);
    if (!DECIMAL_RE.test(t)) {
      throw new Malformed(`${where}: expected a canonical decimal string (no sign, exponent, leading zero or trailing fractional zero)`);
    }
    const [whole, frac = ""] = t.split(".");
    if (frac.length > scale) throw new Malformed(`${where}: ${t} has ${frac.length} decimals but at most ${scale} are exact here`);
    return BigInt(whole + frac) * 10n ** BigInt(scale - frac.length);
  }

  function parseRisk(v, what) {
    const raw = obj(v, what, ["scheme", "version", "quote", "value_decimals", "assets"]);
    const scheme = str(raw.get("scheme"), `${what}.scheme`);
    const version = integer(raw.get("version"), `${what}.version`);
    if (scheme !== "por-risk" || version !== 1n) throw new Malformed(`${what}: scheme ${scheme} version ${version} is not known`);
    const quote = str(raw.get("quote"), `${what}.quote`);
    if (!QUOTE_RE.test(quote)) throw new Malformed(`${what}.quote: expected 1-16 characters of A-Z a-z 0-9 . _ -`);
    const vdec = integer(raw.get("value_decimals"), `${what}.value_decimals`);
    if (vdec < 0n || vdec > MAX_VALUE_DECIMALS) throw new Malformed(`${what}.value_decimals: expected 0..38`);
    const V = Number(vdec);
    const assets = arr(raw.get("assets"), `${what}.assets`).map((item, i) => {
      const where = `${what}.assets[${i}]`;
      const entry = obj(item, where, ["symbol", "decimals", "price", "tiers"]);
      const a = asset(str(entry.get("symbol"), `${where}.symbol`), integer(entry.get("decimals"), `${where}.decimals`));
      if (a.decimals > V) throw new Malformed(`${where}: ${a.symbol} has more decimals than value_decimals`);
      const priceText = str(entry.get("price"), `${where}.price`);
      const priceUnits = scaled(priceText, V - a.decimals, `${where}.price`);
      if (priceUnits === 0n) throw new Malformed(`${where}.price: must be above 0`);
      const items = arr(entry.get("tiers"), `${where}.tiers`);
      if (items.length > MAX_TIERS) throw new Malformed(`${where}.tiers: at most ${MAX_TIERS} tiers`);
      const tiers = [];
      items.forEach((t, k) => {
        const tw = `${where}.tiers[${k}]`;
        const tier = obj(t, tw, ["up_to", "ratio"]);
        const upText = str(tier.get("up_to"), `${tw}.up_to`);
        const upTo = scaled(upText, V, `${tw}.up_to`);
        const ratio = integer(tier.get("ratio"), `${tw}.ratio`);
        if (ratio < 0n || ratio > 100n) throw new Malformed(`${tw}.ratio: expected 0..100 percent`);
        if (upTo <= (tiers.length ? tiers[tiers.length - 1].upTo : 0n)) throw new Malformed(`${tw}.up_to: bounds must be above 0 and strictly increasing`);
        tiers.push({ upTo, ratio, upText });
      });
      return { ...a, priceText, priceUnits, tiers };
    });
    checkAssetList(assets);
    // RFC 8785 bytes of the parsed object: keys in sorted order; every string is printable
    // ASCII of the shapes above and every number a small integer, so JSON.stringify writes
    // exactly what RFC 8785 does.
    const canonical = JSON.stringify({
      assets: assets.map((a) => ({ decimals: a.decimals, price: a.priceText, symbol: a.symbol,
        tiers: a.tiers.map((t) => ({ ratio: Number(t.ratio), up_to: t.upText })) })),
      quote, scheme: "por-risk", value_decimals: V, version: 1,
    });
    return { quote, valueDecimals: V, assets, canonical: utf8(canonical) };
  }

  function positionsOf(v, where, count) {
    const items = arr(v, where);
    if (items.length !== count) throw new Malformed(`${where}: expected ${count} positions (one per asset), found ${items.length}`);
    return items.map((item, k) => {
      const w = `${where}[${k}]`;
      const e = obj(item, w, ["equity", "debt", "collateral"]);
      return { equity: amount(e.get("equity"), `${w}.equity`), debt: amount(e.get("debt"), `${w}.debt`),
        collateral: amount(e.get("collateral"), `${w}.collateral`) };
    });
  }

  function parseMarginProof(doc) {
    const what = "proof";
    const raw = obj(doc, what, ["scheme", "version", "round", "assets", "risk", "user_id", "salt", "positions", "path", "root"]);
    const scheme = str(raw.get("scheme"), `${what}.scheme`);
    const version = integer(raw.get("version"), `${what}.version`);
    if (scheme !== MARGIN_SCHEME || version !== 1n) throw new Malformed(`${what}: scheme ${scheme} version ${version} is not ${MARGIN_SCHEME} version 1`);
    const assets = parseAssets(raw.get("assets"), `${what}.assets`);
    const risk = parseRisk(raw.get("risk"), `${what}.risk`);
    const priced = risk.assets.map((x) => `${x.symbol}/${x.decimals}`).join(", ");
    const listed = assets.map((x) => `${x.symbol}/${x.decimals}`).join(", ");
    if (priced !== listed) throw new Malformed(`${what}.risk: the risk parameters price [${priced}] but the round lists [${listed}]`);
    const k = assets.length;
    const { userId, root, leafCount, path, round } = parseProofBody(raw, what, k, positionsOf);
    return {
      margin: true, round, assets, risk, userId, path, leafCount,
      salt: hashHex(raw.get("salt"), `${what}.salt`),
      positions: positionsOf(raw.get("positions"), `${what}.positions`, k),
      rootHash: hashHex(root.get("hash"), `${what}.root.hash`),
      rootSums: positionsOf(root.get("sums"), `${what}.root.sums`, k),
    };
  }

  // --- hashing (spec §2, §4, §6, §7) ------------------------------------------------------

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) { out.set(p, off); off += p.length; }
    return out;
  }
  function uint(x, width) {
    const out = new Uint8Array(width);
    let v = BigInt(x);
    for (let k = width - 1; k >= 0; k--) { out[k] = Number(v & 0xffn); v >>= 8n; }
    return out;
  }
  const encStr = (bytes) => concat([uint(bytes.length, 2), bytes]);
  const encAmounts = (list) => concat(list.map((a) => uint(a, AMOUNT_SIZE)));
  async function sha256(bytes) {
    return new Uint8Array(await global.crypto.subtle.digest("SHA-256", bytes));
  }
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const sameBytes = (a, b) => a.length === b.length && a.every((x, k) => x === b[k]);

  function addSums(left, right, where) {
    return left.map((a, k) => {
      const total = a + right[k];
      if (total > MAX_AMOUNT) throw new Failed(`${where}: sum of asset #${k} overflows 2^128-1 (${total})`);
      return total;
    });
  }

  async function verifyProof(p, expectedRoot) {
    const levels = levelsFor(p.leafCount, "leaf count");
    if (p.path.length !== levels) {
      throw new Failed(`path has ${p.path.length} levels but a tree of ${p.leafCount} leaves needs exactly ${levels}`);
    }
    const roundBytes = encStr(utf8(p.round));
    const commitment = await sha256(concat([TAG_USER, roundBytes, encStr(utf8(p.userId)), p.salt]));
    let hash = await sha256(concat([TAG_LEAF, commitment, encAmounts(p.amounts)]));
    let sums = p.amounts.slice();
    let index = 0n;
    for (let level = 1; level <= p.path.length; level++) {
      const step = p.path[level - 1];
      const mine = encAmounts(sums);
      const theirs = encAmounts(step.sums);
      if (step.side === "left") {
        hash = await sha256(concat([TAG_NODE, step.hash, theirs, hash, mine]));
        sums = addSums(step.sums, sums, `level ${level}`);
        index |= 1n << BigInt(level - 1);
      } else {
        hash = await sha256(concat([TAG_NODE, hash, mine, step.hash, theirs]));
        sums = addSums(sums, step.sums, `level ${level}`);
      }
    }
    if (sums.some((s, k) => s !== p.rootSums[k])) {
      throw new Failed(`root: computed sums [${sums.join(", ")}] but the proof's root holds [${p.rootSums.join(", ")}]`);
    }
    const prefix = [TAG_ROOT, roundBytes, uint(p.assets.length, 1)];
    for (const a of p.assets) prefix.push(encStr(utf8(a.symbol)), uint(a.decimals, 1));
    prefix.push(uint(p.leafCount, 8), hash, encAmounts(sums));
    const computed = await sha256(concat(prefix));
    if (!sameBytes(computed, p.rootHash)) {
      throw new Failed(`root: computed hash ${hex(computed)} but the proof's root holds ${hex(p.rootHash)}`);
    }
    let checked = "the proof's own root only";
    if (expectedRoot !== null && expectedRoot !== undefined) {
      if (hex(computed) !== expectedRoot) {
        throw new Failed(`root: computed hash ${hex(computed)} but the published root is ${expectedRoot} (a proof from another round, or a different tree)`);
      }
      checked = "the published root";
    }
    return {
      round: p.round,
      userId: p.userId,
      assets: p.assets,
      amounts: p.amounts.map((a) => a.toString()),
      leafIndex: index.toString(),
      pathLength: levels,
      rootHash: hex(computed),
      checkedAgainst: checked,
    };
  }


  // --- the margin rule and path (spec §15.3, §15.4, §15.6) --------------------------------

  const encPositions = (list) => concat(list.flatMap((p) => [uint(p.equity, AMOUNT_SIZE), uint(p.debt, AMOUNT_SIZE), uint(p.collateral, AMOUNT_SIZE)]));

  function addPositions(left, right, where) {
    return left.map((a, k) => {
      const b = right[k];
      const out = { equity: a.equity + b.equity, debt: a.debt + b.debt, collateral: a.collateral + b.collateral };
      for (const name of ["equity", "debt", "collateral"]) {
        if (out[name] > MAX_AMOUNT) throw new Failed(`${where}: ${name} sum of asset #${k} overflows 2^128-1 (${out[name]})`);
      }
      return out;
    });
  }

  // Binance's tiered haircut of a collateral value, rounded down (BigInt division of
  // non-negative numbers truncates, i.e. floors); no tiers: nothing counts.
  function haircut(value, tiers) {
    let previous = 0n;
    let accumulated = 0n;
    for (const t of tiers) {
      if (value <= t.upTo) return accumulated + ((value - previous) * t.ratio) / 100n;
      accumulated += ((t.upTo - previous) * t.ratio) / 100n;
      previous = t.upTo;
    }
    return accumulated;
  }

  // The user's own rule: collateral at most equity per asset, and the haircut collateral
  // value at least the debt value (exact integers in units of 10^-V of the quote).
  function checkRule(risk, positions, who) {
    let equity = 0n;
    let debt = 0n;
    let collateral = 0n;
    risk.assets.forEach((a, k) => {
      const p = positions[k];
      if (p.collateral > p.equity) throw new Failed(`${who}: ${a.symbol}: collateral ${p.collateral} exceeds equity ${p.equity}`);
      equity += p.equity * a.priceUnits;
      debt += p.debt * a.priceUnits;
      collateral += haircut(p.collateral * a.priceUnits, a.tiers);
    });
    if (collateral < debt) {
      throw new Failed(`${who}: under water: haircut collateral value ${collateral} < debt value ${debt} (value units of 10^-${risk.valueDecimals} ${risk.quote})`);
    }
    return { equity, debt, collateral };
  }

  async function verifyMarginProof(p, expectedRoot) {
    const levels = levelsFor(p.leafCount, "leaf count");
    if (p.path.length !== levels) {
      throw new Failed(`path has ${p.path.length} levels but a tree of ${p.leafCount} leaves needs exactly ${levels}`);
    }
    const rule = checkRule(p.risk, p.positions, `user ${JSON.stringify(p.userId)}`);
    const roundBytes = encStr(utf8(p.round));
    const commitment = await sha256(concat([TAG_USER, roundBytes, encStr(utf8(p.userId)), p.salt]));
    let hash = await sha256(concat([TAG_MARGIN_LEAF, commitment, encPositions(p.positions)]));
    let sums = p.positions.slice();
    let index = 0n;
    for (let level = 1; level <= p.path.length; level++) {
      const step = p.path[level - 1];
      const mine = encPositions(sums);
      const theirs = encPositions(step.sums);
      if (step.side === "left") {
        hash = await sha256(concat([TAG_MARGIN_NODE, step.hash, theirs, hash, mine]));
        sums = addPositions(step.sums, sums, `level ${level}`);
        index |= 1n << BigInt(level - 1);
      } else {
        hash = await sha256(concat([TAG_MARGIN_NODE, hash, mine, step.hash, theirs]));
        sums = addPositions(sums, step.sums, `level ${level}`);
      }
    }
    const same = (a, b) => a.equity === b.equity && a.debt === b.debt && a.collateral === b.collateral;
    if (sums.some((s, k) => !same(s, p.rootSums[k]))) {
      throw new Failed("root: computed equity, debt and collateral sums differ from the proof's root");
    }
    const riskHash = await sha256(concat([TAG_RISK, p.risk.canonical]));
    const prefix = [TAG_MARGIN_ROOT, roundBytes, uint(p.assets.length, 1)];
    for (const a of p.assets) prefix.push(encStr(utf8(a.symbol)), uint(a.decimals, 1));
    prefix.push(uint(p.leafCount, 8), riskHash, hash, encPositions(sums));
    const computed = await sha256(concat(prefix));
    if (!sameBytes(computed, p.rootHash)) {
      throw new Failed(`root: computed hash ${hex(computed)} but the proof's root holds ${hex(p.rootHash)} (other prices or tiers than the round's, or another tree)`);
    }
    let checked = "the proof's own root only";
    if (expectedRoot !== null && expectedRoot !== undefined) {
      if (hex(computed) !== expectedRoot) {
        throw new Failed(`root: computed hash ${hex(computed)} but the published root is ${expectedRoot} (a proof from another round, or a different tree)`);
      }
      checked = "the published root";
    }
    const show = (x) => x.toString();
    return {
      margin: true,
      round: p.round,
      userId: p.userId,
      assets: p.assets,
      positions: p.positions.map((x) => ({ equity: show(x.equity), debt: show(x.debt), collateral: show(x.collateral) })),
      rule: { equity: show(rule.equity), debt: show(rule.debt), collateral: show(rule.collateral) },
      quote: p.risk.quote,
      valueDecimals: p.risk.valueDecimals,
      prices: p.risk.assets.map((a) => a.priceText),
      riskHash: hex(riskHash),
      leafIndex: index.toString(),
      pathLength: levels,
      rootHash: hex(computed),
      checkedAgainst: checked,
    };
  }

  // --- the signed attestation (spec §12.3 envelope, §13.1 payload) ------------------------

  function base64Bytes(text, where) {
    if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new Malformed(`${where}: not base64`);
    }
    return Uint8Array.from(global.atob(text), (c) => c.charCodeAt(0));
  }
  function hexBytes(text, size, where) {
    if (typeof text !== "string" || text.length !== 2 * size || !HEX_RE.test(text)) {
      throw new Malformed(`${where}: expected ${2 * size} lowercase hex digits`);
    }
    const out = new Uint8Array(size);
    for (let k = 0; k < size; k++) out[k] = parseInt(text.slice(2 * k, 2 * k + 2), 16);
    return out;
  }

  // Resolves true/false, or null when this browser's WebCrypto has no Ed25519.
  async function ed25519Verify(rawKey, signature, message) {
    let key;
    try {
      key = await global.crypto.subtle.importKey("raw", rawKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      if (err && err.name === "NotSupportedError") return null;
      throw new Malformed(`public key: ${err && err.message}`);
    }
    return global.crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  async function checkSignature(sig, key, payload, who, what = "the attestation's bytes") {
    const raw = hexBytes(key.public_key, 32, `${who} key`);
    if (hex(await sha256(raw)) !== key.key_id) {
      throw new Failed(`${who} key ${key.key_id}: its id is not the SHA-256 of the key`);
    }
    const ok = await ed25519Verify(raw, hexBytes(sig.signature, 64, `${who} signature`), payload);
    if (ok === false) throw new Failed(`the signature by ${who} key ${key.key_id} (${key.label}) does not verify over ${what}`);
    return ok === null ? "unsupported" : "verified";
  }

  // --- the key list (spec §12.3): its rotation chain, checked here, and the user's pin ----

  const TIME_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;

  function publicKeyOf(value, where) {
    const k = obj(value, where, ["scheme", "version", "algorithm", "label", "public_key", "key_id"]);
    if (k.get("scheme") !== "por-public-key" || k.get("version") !== 1n || k.get("algorithm") !== "ed25519") {
      throw new Malformed(`${where}: not a por-public-key version 1 Ed25519 key`);
    }
    return { key_id: str(k.get("key_id"), `${where}.key_id`), label: str(k.get("label"), `${where}.label`),
      public_key: str(k.get("public_key"), `${where}.public_key`) };
  }

  function envelopeOf(value, where) {
    const e = obj(value, where, ["scheme", "version", "payload", "signatures"]);
    if (e.get("scheme") !== "por-signed" || e.get("version") !== 1n) throw new Malformed(`${where}: not a por-signed envelope`);
    const payload = base64Bytes(e.get("payload"), `${where}.payload`);
    const signatures = arr(e.get("signatures"), `${where}.signatures`).map((sig, k) => {
      const m = obj(sig, `${where}.signatures[${k}]`, ["key_id", "signature"]);
      return { key_id: str(m.get("key_id"), "key_id"), signature: str(m.get("signature"), "signature") };
    });
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(payload);
    } catch (err) {
      throw new Malformed(`${where}.payload: not valid UTF-8`);
    }
    return { payload, signatures, document: parseJson(text) };
  }

  /**
   * Parse the exchange's key list (its exact published text) and check its rotation chain
   * in this browser: keys[0] is the first key; each rotation names the old key and admits
   * the next one, is signed by both, is for the same exchange, and comes after the one
   * before. With `pin` (a key id the user got out of band), the chain must contain it.
   * Resolves to {exchange, keys: [{key_id, label, public_key, from, until}], signature};
   * throws Malformed or Failed.
   */
  async function readKeyList(text, pin) {
    const what = "key list";
    const raw = obj(parseJson(text), what, ["scheme", "version", "exchange", "keys", "rotations"]);
    if (raw.get("scheme") !== "por-keylist" || raw.get("version") !== 1n) throw new Malformed(`${what}: not a por-keylist version 1`);
    const exchange = str(raw.get("exchange"), `${what}.exchange`);
    const keys = arr(raw.get("keys"), `${what}.keys`).map((k, i) => publicKeyOf(k, `${what}.keys[${i}]`));
    const rotations = arr(raw.get("rotations"), `${what}.rotations`);
    if (!keys.length) throw new Malformed(`${what}.keys: the list holds no key`);
    if (rotations.length !== keys.length - 1) throw new Malformed(`${what}: ${keys.length} keys need ${keys.length - 1} rotations`);
    let signature = "verified";
    for (const key of keys) {
      if (hex(await sha256(hexBytes(key.public_key, 32, "key"))) !== key.key_id) {
        throw new Failed(`${what}: key ${key.key_id}: its id is not the SHA-256 of the key`);
      }
    }
    const entries = keys.map((k) => ({ ...k, from: null, until: null }));
    let last = null;
    for (let i = 0; i < rotations.length; i++) {
      const where = `${what}.rotations[${i}]`;
      const env = envelopeOf(rotations[i], where);
      const doc = obj(env.document, where, ["scheme", "version", "exchange", "old_key_id", "new_key", "time"]);
      if (doc.get("scheme") !== "por-key-rotation" || doc.get("version") !== 1n) throw new Malformed(`${where}: not a por-key-rotation`);
      if (doc.get("exchange") !== exchange) throw new Failed(`${where}: rotation is for another exchange`);
      if (doc.get("old_key_id") !== keys[i].key_id) throw new Failed(`${where}: rotation starts from another key than ${keys[i].key_id}`);
      const admitted = publicKeyOf(doc.get("new_key"), `${where}.new_key`);
      if (admitted.key_id !== keys[i + 1].key_id || admitted.public_key !== keys[i + 1].public_key) {
        throw new Failed(`${where}: rotation admits another key than ${keys[i + 1].key_id}`);
      }
      const time = str(doc.get("time"), `${where}.time`);
      if (!TIME_RE.test(time)) throw new Malformed(`${where}.time: not an RFC 3339 UTC time`);
      if (last !== null && time <= last) throw new Failed(`${where}: rotation time ${time} is not after the previous one`);
      for (const [key, who] of [[keys[i], "old"], [keys[i + 1], "new"]]) {
        const sig = env.signatures.find((s) => s.key_id === key.key_id);
        if (!sig) throw new Failed(`${where}: not signed by the ${who} key ${key.key_id}`);
        if ((await checkSignature(sig, key, env.payload, `the ${who}`, `${where}'s bytes`)) === "unsupported") signature = "unsupported";
      }
      entries[i].until = time;
      entries[i + 1].from = time;
      last = time;
    }
    if (pin && !keys.some((k) => k.key_id === pin)) {
      throw new Failed(`the key you pinned (${pin}) is not in the exchange's key list's rotation chain`);
    }
    return { exchange, keys: entries, signature };
  }

  /**
   * Parse a signed attestation envelope ({payload: base64, signatures: [{key_id, signature}]})
   * and check, in this browser, the signature of the exchange key the payload names (from
   * `keys`, the published key list's keys) and of every auditor key in `auditors`.
   * Throws Malformed or Failed; resolves to what a proof is checked against.
   */
  async function readAttestation(envelope, keys, auditors, keylist, pin) {
    if (!envelope || !Array.isArray(envelope.signatures)) throw new Malformed("attestation: no signed envelope");
    const payload = base64Bytes(envelope.payload, "attestation.payload");
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(payload);
    } catch (err) {
      throw new Malformed("attestation.payload: not valid UTF-8");
    }
    const raw = parseJson(text);
    if (!(raw instanceof Map)) throw new Malformed("attestation: expected an object");
    // Version 2 adds signer_read_reserves (docs/spec.md §13.1); no figure depends on it.
    // Version 3 is a margin round's (§13.6): its liabilities are the margin root, with the
    // risk hash and equity, debt and collateral totals. Version 4 is a private round's
    // (§13.7): its liabilities are the private root.json's fields, committed totals (units of
    // 10^e base units) and their blindings.
    const version = raw.get("version");
    if (raw.get("scheme") !== "por-attestation" || ![1n, 2n, 3n, 4n].includes(version)) {
      throw new Malformed("attestation: not a por-attestation version 1, 2, 3 or 4 document");
    }
    const margin = version === 3n;
    const priv = version === 4n;
    const round = str(raw.get("round"), "attestation.round");
    const keyId = str(raw.get("key_id"), "attestation.key_id");
    const liab = raw.get("liabilities");
    if (!(liab instanceof Map)) throw new Malformed("attestation.liabilities: expected an object");
    const assets = arr(liab.get("assets"), "attestation.liabilities.assets").map((a, k) => {
      if (!(a instanceof Map)) throw new Malformed(`attestation.liabilities.assets[${k}]: expected an object`);
      const out = { symbol: str(a.get("symbol"), "asset symbol"), decimals: integer(a.get("decimals"), "asset decimals") };
      if (priv) out.unitExponent = integer(a.get("unit_exponent"), "asset unit_exponent");
      return out;
    });
    let privateRoot = null;
    if (priv) {
      const what = "attestation.liabilities";
      if (liab.get("scheme") !== PRIVATE_SCHEME) throw new Malformed(`${what}: version 4 liabilities must be of scheme ${PRIVATE_SCHEME}`);
      const v = integer(liab.get("version"), `${what}.version`);
      if ((v === 2n) !== liab.has("hidden_levels") || (v !== 1n && v !== 2n)) {
        throw new Malformed(`${what}: version 1 without hidden_levels, or version 2 with it`);
      }
      const blindings = arr(liab.get("blindings"), `${what}.blindings`);
      if (blindings.length !== assets.length) throw new Malformed(`${what}.blindings: one per asset`);
      privateRoot = {
        version: v,
        hiddenLevels: v === 2n ? integer(liab.get("hidden_levels"), `${what}.hidden_levels`) : null,
        blindings: blindings.map((b, k) => hex(hexBytes(b, 32, `${what}.blindings[${k}]`))),
      };
    } else if (liab.get("scheme") === PRIVATE_SCHEME) {
      throw new Malformed("attestation.liabilities: a private root's form in a version 1, 2 or 3 attestation");
    }
    const attested = {
      round,
      keyId,
      assets,
      rootHash: hex(hashHex(liab.get("root_hash"), "attestation.liabilities.root_hash")),
      leafCount: integer(liab.get("leaf_count"), "attestation.liabilities.leaf_count"),
      margin,
      private: priv,
      privateRoot,
      riskHash: margin ? hex(hashHex(liab.get("risk_hash"), "attestation.liabilities.risk_hash")) : null,
      totals: margin ? positionsOf(liab.get("totals"), "attestation.liabilities.totals", assets.length)
        : amounts(liab.get("totals"), "attestation.liabilities.totals", assets.length),
      signature: "verified",
      signer: null,
      auditors: [],
    };
    const byId = new Map(envelope.signatures.map((s) => [s.key_id, s]));
    const own = byId.get(keyId);
    let listed = keys || [];
    let chain = null;
    if (typeof keylist === "string") {
      // The key list's exact text: its rotation chain and the user's pin are checked here,
      // and the signing key must be valid at the attestation's signing time.
      chain = await readKeyList(keylist, pin);
      listed = chain.keys;
      const exchange = str(raw.get("exchange"), "attestation.exchange");
      if (chain.exchange !== exchange) throw new Failed(`the key list is of ${chain.exchange}, the attestation of ${exchange}`);
    } else if (pin) {
      throw new Failed("the key you pinned cannot be checked: the page holds no key list");
    }
    const key = listed.find((k) => k.key_id === keyId);
    if (!own) throw new Failed(`attestation: no signature by the key it names (${keyId})`);
    if (!key) throw new Failed(`attestation: key ${keyId} is not in the exchange's published key list`);
    if (chain !== null) {
      const at = str(raw.get("attested_at"), "attestation.attested_at");
      if ((key.from !== null && at < key.from) || (key.until !== null && at >= key.until)) {
        throw new Failed(`attestation: key ${keyId} was not valid at ${at} (from ${key.from || "the start"} until ${key.until || "now"})`);
      }
    }
    attested.signature = await checkSignature(own, key, payload, "the exchange");
    if (chain !== null && chain.signature === "unsupported") attested.signature = "unsupported";
    attested.pinned = pin ? (pin === keyId ? "signer" : "chain") : null;
    attested.signer = key.label;
    for (const auditor of auditors || []) {
      const sig = byId.get(auditor.key_id);
      if (!sig) continue;
      if ((await checkSignature(sig, auditor, payload, "auditor")) === "verified") attested.auditors.push(auditor.label);
    }
    return attested;
  }

  /** Check an attestation alone (the page does it on load). Never rejects. */
  async function checkAttestation(envelope, keys, auditors, keylist, pin) {
    try {
      const a = await readAttestation(envelope, keys, auditors, keylist, pin);
      return { verdict: "verified", round: a.round, rootHash: a.rootHash, signature: a.signature, signer: a.signer, keyId: a.keyId, auditors: a.auditors, pinned: a.pinned };
    } catch (err) {
      return { verdict: "failed", reason: err && err.message };
    }
  }

  function matchAttestation(p, a) {
    const where = `the signed attestation of round ${a.round}`;
    if (a.private) throw new Failed(`${where} is of a private round, the proof of a ${p.margin ? "margin" : "spot"} one`);
    if (a.round !== p.round) throw new Failed(`${where} is not of the proof's round ${p.round}`);
    if (a.leafCount !== p.leafCount) throw new Failed(`${where} states ${a.leafCount} leaves, the proof's tree has ${p.leafCount}`);
    const mine = p.assets.map((x) => `${x.symbol}/${x.decimals}`).join(", ");
    const theirs = a.assets.map((x) => `${x.symbol}/${x.decimals}`).join(", ");
    if (mine !== theirs) throw new Failed(`${where} lists assets [${theirs}], the proof [${mine}]`);
    if (Boolean(p.margin) !== a.margin) {
      throw new Failed(`${where} is of a ${a.margin ? "margin" : "spot"} round, the proof of a ${p.margin ? "margin" : "spot"} one`);
    }
    if (a.margin) {
      if (a.riskHash !== p.riskHash) throw new Failed(`${where} binds risk parameters ${a.riskHash}, the proof's hash to ${p.riskHash}`);
      const text = (list) => list.map((x) => `${x.equity}/${x.debt}/${x.collateral}`).join(", ");
      if (text(a.totals) !== text(p.rootSums)) {
        throw new Failed(`${where} states totals (equity/debt/collateral) [${text(a.totals)}], the proof's root holds [${text(p.rootSums)}]`);
      }
      return;
    }
    if (a.totals.some((t, k) => t !== p.rootSums[k])) {
      throw new Failed(`${where} states totals [${a.totals.join(", ")}], the proof's root holds [${p.rootSums.join(", ")}]`);
    }
  }

  // --- private proofs (spec §16.15): verify-private.js and its libraries, loaded lazily ------

  // Where this file was served from: the private verifier and vendor/ are beside it.
  const BASE = (() => {
    const s = global.document && global.document.currentScript;
    return s && s.src ? new URL(".", s.src).href : null;
  })();
  // What verify-private.js uses of this file: one strict JSON reader, one set of field
  // readers and hashes, one Malformed and Failed.
  const LIB = Object.freeze({
    Malformed, Failed, utf8, concat, uint, encStr, encAmounts, sha256, hex, sameBytes, obj, str,
    integer, arr, hashHex, hexBytes, amount, amounts, asset, checkAssetList, levelsFor,
    isPrintable, ROUND_RE,
  });
  function loadScript(url) {
    return new Promise((resolve, reject) => {
      const el = global.document.createElement("script");
      el.src = url;
      el.onload = resolve;
      el.onerror = () => reject(new Error(`could not load ${url}`));
      global.document.head.appendChild(el);
    });
  }
  let privateLibs = null;
  function loadPrivate() {
    if (privateLibs === null) {
      privateLibs = (async () => {
        try {
          const base = BASE || new URL("/static/", global.location.href).href;
          if (!global.PorVerifyPrivate) await loadScript(`${base}verify-private.js`);
          if (!global.PorZkp) await loadScript(`${base}vendor/por-zkp.js`);
          const zkp = await global.PorZkp.load(); // instantiates the WebAssembly module
          return { impl: global.PorVerifyPrivate.make(LIB), curve: { Point: global.PorZkp.Point }, zkp };
        } catch (err) {
          throw new Unsupported(`this browser could not load the private-proof verifier (${err && err.message}): check the proof with \`por-verify proof FILE --summary root.json\` (pip install 'por-toolkit[private]')`);
        }
      })();
      privateLibs.catch(() => { privateLibs = null; });
    }
    return privateLibs;
  }

  /** Check a private proof (spec §16.9) against `published`, as verifyProofText. */
  async function verifyPrivateProof(proof, published) {
    const libs = await loadPrivate();
    let report;
    try {
      const p = libs.impl.parse(proof.doc, proof.text, libs.curve);
      report = await libs.impl.check(p, typeof published === "function" ? null : published, libs.curve, libs.zkp);
    } catch (err) {
      // The WebAssembly module aborted (never expected): load a fresh one next time.
      if (!(err instanceof Malformed || err instanceof Failed)) privateLibs = null;
      throw err;
    }
    if (typeof published !== "function") return report;
    // On the page the root must be a signed version 4 attestation's (spec §13.7, §16.15):
    // its signature checked here, then every field of the root the proof reached.
    const held = `its path, ${report.rangeProofsChecked} range proofs, commitment sums and root opening hold in this browser`;
    const context = published(report.round);
    if (context === undefined) {
      throw new Failed(`round ${report.round} has no signed attestation on this page: nothing to check the proof's root against (${held})`);
    }
    let a;
    try {
      a = await readAttestation(context.attestation, context.keys, context.auditors, context.keylist, context.pin);
    } catch (err) {
      throw new Failed(`the signed attestation of round ${report.round}: ${err && err.message}`);
    }
    const where = `the signed attestation of round ${a.round}`;
    if (!a.private) {
      throw new Failed(`${where} is not one of a private round (version 4): nothing to check the proof's root against (${held})`);
    }
    const text = (list) => list.map((x) => `${x.symbol}/${x.decimals}/${x.unitExponent}`).join(", ");
    const mismatch = [
      ["round", a.round === report.round],
      ["assets", text(a.assets) === text(report.assets.map((x) => ({ ...x, unitExponent: BigInt(x.unitExponent), decimals: BigInt(x.decimals) })))],
      ["leaf_count", a.leafCount === report.leafCount],
      ["hidden_levels", (a.privateRoot.hiddenLevels === null ? null : Number(a.privateRoot.hiddenLevels)) === report.hiddenLevels],
      ["totals", a.totals.map(String).join(",") === report.totals.join(",")],
      ["blindings", a.privateRoot.blindings.join(",") === report.blindings.join(",")],
      ["root_hash", a.rootHash === report.rootHash],
    ].filter(([, same]) => !same).map(([name]) => name);
    if (mismatch.length) throw new Failed(`${where} does not match the root the proof reaches: ${mismatch.join(", ")}`);
    return { ...report, checkedAgainst: "the root in the signed attestation", signature: a.signature,
      signer: a.signer, keyId: a.keyId, auditors: a.auditors, pinned: a.pinned };
  }

  function verdictOf(err) {
    if (err instanceof Failed) return { verdict: "failed", reason: err.message };
    if (err instanceof Malformed) return { verdict: "malformed", reason: err.message };
    if (err instanceof Unsupported) return { verdict: "unsupported", reason: err.message };
    // Anything else (a bug, or a browser without WebCrypto) never passes: fail closed.
    return { verdict: "malformed", reason: `could not check the proof: ${err && err.message}` };
  }

  /**
   * Verify a proof given as text against a published root (64 lowercase hex, or null to
   * check the proof against itself only, as `por-verify proof` without --root).
   * Or pass a function round => context|undefined, where the context is
   * {attestation: <signed envelope>, keys: [...], auditors: [...]}: the proof is then checked
   * against the root in that round's signed attestation, whose signature is checked first.
   * A private proof (spec §16) is checked with verify-private.js, loaded on first use.
   * Resolves to {verdict: "verified"|"failed"|"malformed"|"unsupported" (the private-proof
   * libraries did not load), reason?, report?}; never rejects.
   */
  async function verifyProofText(text, published) {
    try {
      const proof = parseAnyProof(text);
      if (proof.private) return { verdict: "verified", report: await verifyPrivateProof(proof, published) };
      let expected = published;
      let attested = null;
      if (typeof published === "function") {
        const context = published(proof.round);
        if (context === undefined) {
          throw new Failed(`round ${proof.round} has no signed attestation on this page: nothing to check the proof against`);
        }
        try {
          attested = await readAttestation(context.attestation, context.keys, context.auditors, context.keylist, context.pin);
        } catch (err) {
          // The user's proof is not at fault: the statement it is checked against is.
          throw new Failed(`the signed attestation of round ${proof.round}: ${err && err.message}`);
        }
        expected = attested.rootHash;
      }
      const report = proof.margin ? await verifyMarginProof(proof, expected) : await verifyProof(proof, expected);
      if (attested !== null) {
        if (proof.margin) proof.riskHash = report.riskHash;
        matchAttestation(proof, attested);
        report.checkedAgainst = "the root in the signed attestation";
        report.signature = attested.signature;
        report.signer = attested.signer;
        report.keyId = attested.keyId;
        report.auditors = attested.auditors;
        report.pinned = attested.pinned;
      }
      return { verdict: "verified", report };
    } catch (err) {
      return verdictOf(err);
    }
  }

  /** As verifyProofText, from bytes (a dropped file): strict UTF-8, a BOM is refused. */
  async function verifyProofBytes(bytes, published) {
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (err) {
      return { verdict: "malformed", reason: "proof: not valid UTF-8" };
    }
    return verifyProofText(text, published);
  }

  /** Base units as an exact decimal string in asset units ("0.00120000"). */
  function formatUnits(amountText, decimals) {
    const v = BigInt(amountText);
    if (decimals === 0) return v.toString();
    const scale = 10n ** BigInt(decimals);
    return `${v / scale}.${(v % scale).toString().padStart(decimals, "0")}`;
  }

  global.PorVerify = Object.freeze({
    verifyProofText, verifyProofBytes, checkAttestation, readKeyList, formatUnits, parseJson, Malformed, Failed,
  });
})(globalThis);
