// Hardhat 2 network for por-toolkit's reserves tests: a local node on loopback only.
// The accounts are Hardhat's well-known public development keys (never real funds).
module.exports = {
  networks: {
    hardhat: { chainId: 31337, hardfork: "cancun", mining: { auto: true } },
  },
};
