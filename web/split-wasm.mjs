// vendor.sh's last step: take the WebAssembly that @vulpemventures/secp256k1-zkp inlines as a
// data: URI out of the bundle, into vendor/por-zkp.wasm beside it, and name that file instead.
// The module then loads it from the page's own origin (CSP connect-src 'self'), never from a
// data: URI, which the page's CSP refuses; and it travels as 0.6 MB of binary, not base64.
import fs from "node:fs";
const [bundle, wasm] = process.argv.slice(2);
const text = fs.readFileSync(bundle, "utf8");
const re = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/g;
const found = [...text.matchAll(re)];
if (found.length !== 1) throw new Error(`expected one inlined WebAssembly module, found ${found.length}`);
const bytes = Buffer.from(found[0][1], "base64");
if (bytes.subarray(0, 4).toString("hex") !== "0061736d") throw new Error("the data: URI is not WebAssembly");
fs.writeFileSync(wasm, bytes);
fs.writeFileSync(bundle, text.replace(found[0][0], JSON.stringify(wasm.split("/").pop())));
