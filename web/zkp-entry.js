// The entry of api/static/vendor/por-zkp.js, the page's private-proof libraries (docs/spec.md
// §16.15), bundled by vendor.sh with esbuild from the exact npm versions of package-lock.json:
// - @vulpemventures/secp256k1-zkp: libsecp256k1-zkp compiled to WebAssembly (generators,
//   Pedersen commitments, Borromean range-proof verify and info);
// - @noble/curves: secp256k1 point addition and the field square root (commitment sums).
// Nothing else: every rule of the scheme is in api/static/verify-private.js.
import secp256k1zkp from "@vulpemventures/secp256k1-zkp";
import { secp256k1 } from "@noble/curves/secp256k1.js";

globalThis.PorZkp = Object.freeze({ load: secp256k1zkp, Point: secp256k1.Point });
