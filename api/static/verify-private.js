// The page's verifier of a private inclusion proof (docs/spec.md §16, scheme por-mst-private,
// version 1 full hiding and version 2 hybrid), as verifier/private/proof.py checks it, in the
// same order and with the same verdicts (tests/web/test_private_page.py compares both on every
// private vector and on hundreds of mutants).
//
// verify.js loads this file, and the libraries (vendor/por-zkp.js, 2 MB with the WebAssembly
// inlined), only when a private proof is checked, so the page stays light. The libraries
// (spec §16.15): libsecp256k1-zkp compiled to WebAssembly (@vulpemventures/secp256k1-zkp) makes
// the asset generators and Pedersen commitments and verifies the Borromean range proofs (the
// very library wallycore bundles for por-verify); @noble/curves adds commitments as secp256k1
// points and takes the field's square roots. No curve arithmetic is written here: this file
// decodes and encodes libsecp256k1-zkp's 0x08/0x09 form with noble's field operations, and
// holds the scheme's rules (parsing, hashes, positions, the unit rule, the order of checks).
"use strict";
(function (global) {
  const SCHEME = "por-mst-private";
  const FIELD_PRIME = (1n << 256n) - (1n << 32n) - 977n; // spec §16.2
  const GROUP_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141n;
  const MAX_VALUE = (1n << 64n) - 1n; // spec §16.3: committed values are u64
  const RANGE_PROOF_SIZE = 5126; // spec §16.5: 64 bits, minimum 0, exponent 0
  const COMMITMENT_SIZE = 33;
  const MAX_UNIT_EXPONENT = 38n;
  const MAX_SAFE = (1n << 53n) - 1n; // RFC 8785 numbers are IEEE doubles
  const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  // Every piece of verify.js this file uses is handed over by verify.js itself (`lib`), so
  // both share one strict JSON reader, one set of field readers and one Malformed/Failed.
  function make(lib) {
    const { Malformed, Failed, utf8, concat, uint, encStr, encAmounts, sha256, hex, sameBytes } = lib;
    const tag = (s) => utf8(s);
    const TAG_USER = tag("POR-MST-V1:USER:"); // spec §4, reused as is
    const TAG_LEAF = tag("POR-PRV-V1:LEAF:");
    const TAG_NODE = tag("POR-PRV-V1:NODE:");
    const TAG_ROOT = tag("POR-PRV-V1:ROOT:");
    const TAG_ROOT_V2 = tag("POR-PRV-V2:ROOT:");
    const TAG_GEN = tag("POR-PRV-V1:GENR:");
    const TAG_RANGE = tag("POR-PRV-V1:RNGE:");

    // --- RFC 8785: one proof, one encoding (spec §16.8) -------------------------------------

    function jcs(v) {
      if (v === null) return "null";
      if (v === true) return "true";
      if (v === false) return "false";
      if (typeof v === "bigint") {
        if (v > MAX_SAFE || v < -MAX_SAFE) throw new Malformed(`no RFC 8785 serialization: the integer ${v} is beyond 2^53`);
        return v.toString();
      }
      if (typeof v === "string") {
        if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v)) {
          throw new Malformed("no RFC 8785 serialization: a string holds a lone surrogate");
        }
        return JSON.stringify(v);
      }
      if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
      const keys = [...v.keys()].sort(); // UTF-16 code units, as RFC 8785 says
      return `{${keys.map((k) => `${jcs(k)}:${jcs(v.get(k))}`).join(",")}}`;
    }

    // --- fields (verifier/private/proof.py) -------------------------------------------------

    function list(v, where, count) {
      const items = lib.arr(v, where);
      if (items.length !== count) throw new Malformed(`${where}: expected ${count} entries (one per asset), found ${items.length}`);
      return items;
    }
    function u64(v, where) {
      const x = lib.amount(v, where);
      if (x > MAX_VALUE) throw new Malformed(`${where}: ${x} is above 2^64-1`);
      return x;
    }
    function scalars(v, where, count) {
      return list(v, where, count).map((item, k) => {
        const x = BigInt(`0x${hex(lib.hexBytes(item, 32, `${where}[${k}]`))}`);
        if (x >= GROUP_ORDER) throw new Malformed(`${where}[${k}]: a blinding factor must be below the group order`);
        return x;
      });
    }
    function commitmentList(v, where, count, curve) {
      return list(v, where, count).map((item, k) => {
        const raw = lib.hexBytes(item, COMMITMENT_SIZE, `${where}[${k}]`);
        decode(raw, `${where}[${k}]`, curve); // canonical and on the curve, or malformed
        return raw;
      });
    }
    function rangeProofs(v, where, count) {
      return list(v, where, count).map((item, k) => {
        const text = lib.str(item, `${where}[${k}]`);
        if (!B64_RE.test(text)) throw new Malformed(`${where}[${k}]: not canonical base64`);
        const binary = global.atob(text);
        const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
        if (global.btoa(binary) !== text) throw new Malformed(`${where}[${k}]: base64 is not canonical`);
        return bytes;
      });
    }
    function assetsOf(v, where) {
      const assets = lib.arr(v, where).map((item, k) => {
        const a = lib.obj(item, `${where}[${k}]`, ["symbol", "decimals", "unit_exponent"]);
        const base = lib.asset(lib.str(a.get("symbol"), `${where}[${k}].symbol`), lib.integer(a.get("decimals"), `${where}[${k}].decimals`));
        const e = lib.integer(a.get("unit_exponent"), `${where}[${k}].unit_exponent`);
        if (e < 0n || e > MAX_UNIT_EXPONENT) throw new Malformed(`asset ${base.symbol}: unit_exponent must be 0..38`);
        return { ...base, unitExponent: Number(e) };
      });
      return lib.checkAssetList(assets);
    }

    // --- libsecp256k1-zkp's commitment form, through noble's field and points (spec §16.2) --

    // 0x08 ‖ x: the point whose y is the square root of x^3 + 7 that is itself a square
    // (a quadratic residue); 0x09 ‖ x: its negation. x must be below p (the library reduces
    // x mod p, so x + p would name the same point with other bytes) and on the curve.
    function decode(raw, where, curve) {
      const Fp = curve.Point.Fp;
      if (raw.length !== COMMITMENT_SIZE || (raw[0] !== 8 && raw[0] !== 9)) {
        throw new Malformed(`${where}: not a canonical commitment (0x08/0x09 ‖ x, x < p)`);
      }
      const x = BigInt(`0x${hex(raw.subarray(1))}`);
      if (x >= FIELD_PRIME) throw new Malformed(`${where}: not a canonical commitment (0x08/0x09 ‖ x, x < p)`);
      const y2 = Fp.add(Fp.pow(x, 3n), 7n);
      let y;
      try {
        y = Fp.sqrt(y2);
      } catch (err) {
        throw new Malformed(`${where}: not a valid Pedersen commitment (0x08/0x09 ‖ x on the curve)`);
      }
      if (!isSquare(Fp, y)) y = Fp.neg(y);
      if (raw[0] === 9) y = Fp.neg(y);
      const point = curve.Point.fromAffine({ x, y });
      point.assertValidity();
      return point;
    }
    function isSquare(Fp, y) {
      return Fp.eql(Fp.pow(y, (Fp.ORDER - 1n) / 2n), Fp.ONE);
    }

    // --- parsing (spec §16.8, §16.14), everything before any check ----------------------------

    function parse(doc, text, curve) {
      const what = "proof";
      if (jcs(doc) !== text) {
        throw new Malformed(`${what}: the bytes are not the file's RFC 8785 serialization (sorted keys, no whitespace, no trailing newline; spec §16.7)`);
      }
      const raw = lib.obj(doc, what, ["scheme", "version", "round", "assets", "user_id", "salt", "amounts", "blindings", "path", "root"]);
      const scheme = lib.str(raw.get("scheme"), `${what}.scheme`);
      const version = lib.integer(raw.get("version"), `${what}.version`);
      if (scheme !== SCHEME || (version !== 1n && version !== 2n)) {
        throw new Malformed(`${what}: scheme ${scheme} version ${version} is not ${SCHEME} version 1 or 2`);
      }
      const assets = assetsOf(raw.get("assets"), `${what}.assets`);
      const n = assets.length;
      const round = lib.str(raw.get("round"), `${what}.round`);
      if (!lib.ROUND_RE.test(round)) throw new Malformed(`round id ${round}: not a valid round id`);
      const userId = lib.str(raw.get("user_id"), `${what}.user_id`);
      if (!userId || !lib.isPrintable(userId)) throw new Malformed(`${what}.user_id: must be non-empty printable text`);
      if (utf8(userId).length > 128) throw new Malformed(`${what}.user_id: more than 128 bytes`);
      const rootFields = ["hash", "leaf_count", "totals", "blindings"];
      const rootRaw = lib.obj(raw.get("root"), `${what}.root`, version === 2n ? [...rootFields, "hidden_levels"] : rootFields);
      const leafCount = lib.integer(rootRaw.get("leaf_count"), `${what}.root.leaf_count`);
      const levels = lib.levelsFor(leafCount, `${what}.root.leaf_count`);
      let hiddenLevels = null;
      if (version === 2n) {
        const L = lib.integer(rootRaw.get("hidden_levels"), `${what}.root.hidden_levels`);
        if (L < 1n || L >= BigInt(levels)) {
          throw new Malformed(`${what}.root.hidden_levels: must be 1..${levels - 1} for a tree of ${levels} levels (full hiding is version 1)`);
        }
        hiddenLevels = Number(L);
      }
      const root = {
        hash: lib.hashHex(rootRaw.get("hash"), `${what}.root.hash`),
        leafCount,
        totals: list(rootRaw.get("totals"), `${what}.root.totals`, n).map((x, j) => u64(x, `${what}.root.totals[${j}]`)),
        blindings: scalars(rootRaw.get("blindings"), `${what}.root.blindings`, n),
        hiddenLevels,
      };
      const hidden = hiddenLevels === null ? levels : hiddenLevels;
      const rawPath = lib.arr(raw.get("path"), `${what}.path`);
      if (rawPath.length !== levels) {
        throw new Malformed(`${what}.path: expected ${levels} steps for ${leafCount} leaves, found ${rawPath.length}`);
      }
      const path = rawPath.map((item, i) => {
        const where = `${what}.path[${i}]`;
        const opened = i >= hidden; // which levels are opened follows from the root's L (§16.14)
        const step = lib.obj(item, where, opened
          ? ["side", "hash", "sums", "blindings", "parents"]
          : ["side", "hash", "commitments", "range_proofs", "parents"]);
        const side = lib.str(step.get("side"), `${where}.side`);
        if (side !== "left" && side !== "right") throw new Malformed(`${where}.side: expected 'left' or 'right'`);
        const hash = lib.hashHex(step.get("hash"), `${where}.hash`);
        if (opened) {
          return {
            side, hash, opened,
            parents: commitmentList(step.get("parents"), `${where}.parents`, n, curve),
            sums: list(step.get("sums"), `${where}.sums`, n).map((x, j) => u64(x, `${where}.sums[${j}]`)),
            blindings: scalars(step.get("blindings"), `${where}.blindings`, n),
          };
        }
        return {
          side, hash, opened,
          commitments: commitmentList(step.get("commitments"), `${where}.commitments`, n, curve),
          rangeProofs: rangeProofs(step.get("range_proofs"), `${where}.range_proofs`, n),
          parents: commitmentList(step.get("parents"), `${where}.parents`, n, curve),
        };
      });
      return {
        round, assets, userId, path, root, levels, version,
        salt: lib.hashHex(raw.get("salt"), `${what}.salt`),
        amounts: lib.amounts(raw.get("amounts"), `${what}.amounts`, n),
        blindings: scalars(raw.get("blindings"), `${what}.blindings`, n),
      };
    }

    // --- the check (spec §16.9, §16.14), in verify_private_proof's order ----------------------

    async function check(p, expectedRoot, curve, zkp) {
      const { assets } = p;
      const n = assets.length;
      const gens = [];
      for (const a of assets) {
        const seed = await sha256(concat([TAG_GEN, encStr(utf8(a.symbol)), uint(a.decimals, 1)]));
        gens.push(zkp.generator.generate(seed));
      }
      // The unit rule (§16.3): v = ⌈amount / 10^e⌉, which must fit in 64 bits.
      const values = p.amounts.map((amount, j) => {
        const unit = 10n ** BigInt(assets[j].unitExponent);
        const v = (amount + unit - 1n) / unit;
        if (v > MAX_VALUE) {
          throw new Malformed(`amounts[${j}]: ${amount} base units of ${assets[j].symbol} are ${v} units of 10^${assets[j].unitExponent}, above 2^64-1`);
        }
        return v;
      });
      const commit = (value, blinding, j, where) => {
        try {
          return zkp.pedersen.commitment(value.toString(), gens[j], uint(blinding, 32));
        } catch (err) {
          throw new Failed(`${where}: cannot commit to this opening (${err && err.message})`);
        }
      };
      let current = values.map((v, j) => commit(v, p.blindings[j], j, `leaf opening, asset ${assets[j].symbol}`));
      const roundBytes = encStr(utf8(p.round));
      const user = await sha256(concat([TAG_USER, roundBytes, encStr(utf8(p.userId)), p.salt]));
      let hash = await sha256(concat([TAG_LEAF, user, encAmounts(p.amounts), ...current]));
      let leafIndex = 0n;
      p.path.forEach((s, i) => { if (s.side === "left") leafIndex |= 1n << BigInt(i); });
      let checked = 0;
      for (let level = 0; level < p.path.length; level++) {
        const step = p.path[level];
        const siblingIndex = (leafIndex >> BigInt(level)) ^ 1n;
        const sibling = step.opened
          ? step.sums.map((v, j) => commit(v, step.blindings[j], j, `path[${level}] opening, asset ${assets[j].symbol}`))
          : step.commitments;
        for (let j = 0; j < n; j++) {
          const where = `path[${level}] asset ${assets[j].symbol}`;
          if (!step.opened) {
            const proof = step.rangeProofs[j];
            if (proof.length !== RANGE_PROOF_SIZE) {
              throw new Malformed(`${where}: expected a ${RANGE_PROOF_SIZE}-byte range proof of 64 bits, found ${proof.length} bytes`);
            }
            const position = concat([TAG_RANGE, roundBytes, uint(level, 1), uint(siblingIndex, 8), uint(j, 1)]);
            if (!zkp.rangeproof.verify(proof, step.commitments[j], gens[j], position)) {
              throw new Failed(`${where}: the range proof does not verify for this commitment at this position (round, level, node, asset)`);
            }
            const info = zkp.rangeproof.info(proof);
            if (BigInt(info.minValue) !== 0n || BigInt(info.maxValue) !== MAX_VALUE) {
              throw new Failed(`${where}: the range proof proves [${info.minValue}, ${info.maxValue}], the spec requires [0, 2^64 - 1]`);
            }
            checked += 1;
          }
          // parent = own + sibling, as points (libsecp256k1-zkp's pedersen_verify_tally).
          const sum = decode(current[j], where, curve).add(decode(sibling[j], where, curve));
          if (!sum.equals(decode(step.parents[j], where, curve))) {
            throw new Failed(`${where}: the parent commitment ${hex(step.parents[j]).slice(0, 16)}... is not the sum of its children's commitments`);
          }
        }
        hash = step.side === "left"
          ? await sha256(concat([TAG_NODE, step.hash, ...sibling, hash, ...current]))
          : await sha256(concat([TAG_NODE, hash, ...current, step.hash, ...sibling]));
        current = step.parents;
      }
      const { root } = p;
      for (let j = 0; j < n; j++) {
        const opened = commit(root.totals[j], root.blindings[j], j, `root ${assets[j].symbol}`);
        if (!sameBytes(opened, current[j])) {
          throw new Failed(`root opening, asset ${assets[j].symbol}: commit(total ${root.totals[j]}, published blinding) is ${hex(opened).slice(0, 16)}..., the path's top commitment is ${hex(current[j]).slice(0, 16)}...`);
        }
      }
      const parts = [root.hiddenLevels === null ? TAG_ROOT : TAG_ROOT_V2, roundBytes, uint(n, 1)];
      for (const a of assets) parts.push(encStr(utf8(a.symbol)), uint(a.decimals, 1), uint(a.unitExponent, 1));
      parts.push(uint(root.leafCount, 8));
      if (root.hiddenLevels !== null) parts.push(uint(root.hiddenLevels, 1));
      parts.push(hash, ...current);
      for (let j = 0; j < n; j++) parts.push(uint(root.totals[j], 8), uint(root.blindings[j], 32));
      const computed = await sha256(concat(parts));
      if (!sameBytes(computed, root.hash)) {
        throw new Failed(`root hash: recomputed ${hex(computed)}, the proof says ${hex(root.hash)}`);
      }
      let checkedAgainst = "the proof's own root only";
      if (expectedRoot !== null && expectedRoot !== undefined) {
        if (hex(computed) !== expectedRoot) {
          throw new Failed(`root hash ${hex(computed)} is not the published ${expectedRoot}`);
        }
        checkedAgainst = "the published root";
      }
      return {
        private: true,
        round: p.round,
        userId: p.userId,
        assets,
        amounts: p.amounts.map((a) => a.toString()),
        values: values.map((v) => v.toString()),
        leafIndex: leafIndex.toString(),
        pathLength: p.levels,
        leafCount: root.leafCount,
        totals: root.totals.map((t) => t.toString()),
        blindings: root.blindings.map((b) => hex(uint(b, 32))),
        hiddenLevels: root.hiddenLevels,
        rangeProofsChecked: checked,
        reveals: reveals(root.hiddenLevels, p.levels),
        rootHash: hex(computed),
        checkedAgainst,
      };
    }

    // What a proof of this round shows of other users (verifier/private/scheme.py reveals).
    function reveals(hiddenLevels, levels) {
      if (hiddenLevels === null || hiddenLevels >= levels) {
        return "full hiding: no other user's balance and no subtree's sum (only the published totals)";
      }
      const low = 1 << hiddenLevels;
      return `hybrid, L = ${hiddenLevels}: the sums of the subtrees of ${low} leaves and more on the path (levels ${hiddenLevels}..${levels - 1}), hence the sum of the ${low - 1} other leaves of the user's own ${low}-leaf subtree; no single other user's balance and no sum of fewer than ${low - 1} leaves (padding leaves count as leaves of zero)`;
    }

    return { parse, check, jcs };
  }

  global.PorVerifyPrivate = Object.freeze({ make });
})(globalThis);
