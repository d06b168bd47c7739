// The entry of api/static/vendor/por-zkp.js, the page's private-proof libraries (docs/spec.md
// §16.15), bundled by vendor.sh with esbuild from the exact npm versions of package-lock.json:
// - @vulpemventures/secp256k1-zkp: libsecp256k1-zkp compiled to WebAssembly (generators,
//   Pedersen commitments, Borromean range-proof verify and info);
// - @noble/curves: secp256k1 point addition and the field square root (commitment sums).
// Nothing else: every rule of the scheme is in api/static/verify-private.js.
// Only the three wrappers the page uses are bundled (not musig, ECDH, ECC or surjection proofs).
import { loadSecp256k1ZKP } from "@vulpemventures/secp256k1-zkp/build/module/lib/cmodule";
import { generator } from "@vulpemventures/secp256k1-zkp/build/module/lib/generator";
import { pedersen } from "@vulpemventures/secp256k1-zkp/build/module/lib/pedersen";
import { rangeproof } from "@vulpemventures/secp256k1-zkp/build/module/lib/rangeproof";
import { secp256k1 } from "@noble/curves/secp256k1.js";

async function load() {
  const cModule = await loadSecp256k1ZKP();
  return { generator: generator(cModule), pedersen: pedersen(cModule), rangeproof: rangeproof(cModule) };
}

globalThis.PorZkp = Object.freeze({ load, Point: secp256k1.Point });
