// Compiles por/demo/contracts/*.sol with solc-js (offline, from node_modules) and prints
// {"<Contract>": {"abi": [...], "bytecode": "<hex>"}} with sorted keys, so the committed
// por/demo/contracts/compiled.json can be checked against a fresh compilation.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const dir = path.resolve(__dirname, "../../../por/demo/contracts");
const sources = {};
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(dir, file), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const result = {};
for (const file of Object.keys(output.contracts).sort()) {
  for (const name of Object.keys(output.contracts[file]).sort()) {
    const c = output.contracts[file][name];
    result[name] = { abi: c.abi, bytecode: c.evm.bytecode.object };
  }
}
result._compiler = { solc: solc.version(), evmVersion: "cancun", optimizer_runs: 200 };
process.stdout.write(JSON.stringify(result, null, 1) + "\n");
