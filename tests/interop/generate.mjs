// Independent signers for the wallet-signature interop vectors (issue 13 item 5).
//
// Run once, then commit the output:   cd tests/interop && npm ci && node generate.mjs
// Writes tests/data/signatures/interop/*.json. The Python tests read only those files, so
// they need no npm. Every signature here is made by a library the toolkit does not use
// (bitcoinjs-message, ethers v6, @solana/kit, tweetnacl), and every signing primitive is
// deterministic (RFC 6979, Ed25519), so a re-run writes the same bytes.
//
// Each vector says what the toolkit must answer ("valid": true/false) and, where the signer
// library has its own verifier, what that verifier answered, so a difference is on record.

import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as bitcoin from "bitcoinjs-lib";
import bitcoinMessage from "bitcoinjs-message";
import { ECPairFactory } from "ecpair";
import * as ecc from "tiny-secp256k1";
import { Signature, TypedDataEncoder, Wallet, hashMessage, verifyMessage } from "ethers";
import nacl from "tweetnacl";
import {
  compileOffchainMessageEnvelope,
  createKeyPairFromPrivateKeyBytes,
  getAddressFromPublicKey,
  getBase58Decoder,
  getBase58Encoder,
  getOffchainMessageEnvelopeEncoder,
  offchainMessageApplicationDomain,
  signOffchainMessageEnvelope,
  verifyOffchainMessageEnvelope,
} from "@solana/kit";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "data", "signatures", "interop");
const ECPair = ECPairFactory(ecc);
bitcoin.initEccLib(ecc);
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const seed = (label) => createHash("sha256").update(`por-toolkit interop ${label}`).digest();

// A §11.2 challenge message for one wallet (the verifier takes the text from the vector).
function challenge(chain, address) {
  return [
    "POR-TOOLKIT RESERVES CHALLENGE V1",
    "exchange: Interop Exchange",
    "round: 2026-11-28",
    `liabilities root: ${"ab".repeat(32)}`,
    `snapshot bitcoin: height 900000 block ${"00".repeat(4)}${"cd".repeat(28)}`,
    `snapshot ethereum: height 21000000 block ${"ef".repeat(32)}`,
    `snapshot litecoin: height 2800000 block ${"12".repeat(32)}`,
    `snapshot solana: height 300000000 block ${"34".repeat(32)}`,
    `wallet: ${chain} ${address}`,
  ].join("\n");
}

function write(name, doc) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, name), JSON.stringify(doc, null, 2) + "\n");
  console.log(`wrote ${name}: ${doc.vectors.length} vectors`);
}

// ---------------------------------------------------------------- Bitcoin family, BIP-137
const NETWORKS = {
  bitcoin: { lib: bitcoin.networks.bitcoin, prefix: "\u0018Bitcoin Signed Message:\n" },
  litecoin: {
    lib: {
      messagePrefix: "\u0019Litecoin Signed Message:\n", bech32: "ltc",
      bip32: { public: 0x019da462, private: 0x019d9cfe }, pubKeyHash: 0x30, scriptHash: 0x32,
      wif: 0xb0,
    },
    prefix: "\u0019Litecoin Signed Message:\n",
  },
};

function addresses(pubkey, network) {
  const p2wpkh = bitcoin.payments.p2wpkh({ pubkey, network });
  return {
    p2pkh: bitcoin.payments.p2pkh({ pubkey, network }).address,
    p2wpkh: p2wpkh.address,
    "p2sh-p2wpkh": bitcoin.payments.p2sh({ redeem: p2wpkh, network }).address,
  };
}

function bitcoinVectors() {
  const vectors = [];
  const push = (v) => {
    let libVerdict;
    try {
      libVerdict = bitcoinMessage.verify(v.message, v.address, v.signature, v.prefix, true);
    } catch (e) {
      libVerdict = `throws: ${e.message}`;
    }
    delete v.prefix;
    vectors.push({ ...v, bitcoinjs_message_checkSegwitAlways: libVerdict });
  };
  for (const [netName, net] of Object.entries(NETWORKS)) {
    for (let i = 1; i <= 3; i++) {
      const key = ECPair.fromPrivateKey(seed(`${netName} ${i}`), { network: net.lib });
      const pubkey = Buffer.from(key.publicKey);
      const addrs = addresses(pubkey, net.lib);
      for (const kind of ["p2wpkh", "p2sh-p2wpkh"]) {
        const address = addrs[kind];
        const message = challenge(netName, address);
        // Electrum / Sparrow "Standard" form: no segwitType, so the P2PKH compressed header
        // range 31..34 is used for a segwit address.
        const signature = bitcoinMessage
          .sign(message, key.privateKey, true, net.prefix)
          .toString("base64");
        push({
          name: `electrum-${kind}-${netName}-${i}`, network: netName, address, message,
          signature, header: Buffer.from(signature, "base64")[0], prefix: net.prefix,
          valid: true, why: "header 31..34 and the recovered key's HASH160 is the witness program",
        });
        // The same address signed with its own BIP-137 segwit header (Trezor's form).
        const typed = bitcoinMessage
          .sign(message, key.privateKey, true, net.prefix, { segwitType: kind === "p2wpkh" ? "p2wpkh" : "p2sh(p2wpkh)" })
          .toString("base64");
        push({
          name: `bip137-segwit-header-${kind}-${netName}-${i}`, network: netName, address,
          message, signature: typed, header: Buffer.from(typed, "base64")[0],
          prefix: net.prefix, valid: true, why: "the header names the address type",
        });
      }
      // The wallet's legacy address, header 31..34 (the classic case, unchanged).
      const message = challenge(netName, addrs.p2pkh);
      push({
        name: `p2pkh-compressed-${netName}-${i}`, network: netName, address: addrs.p2pkh,
        message, signature: bitcoinMessage.sign(message, key.privateKey, true, net.prefix)
          .toString("base64"), prefix: net.prefix, valid: true, why: "classic P2PKH",
      });
    }
  }
  // Forgeries.
  const net = NETWORKS.bitcoin;
  const owner = ECPair.fromPrivateKey(seed("bitcoin 1"));
  const thief = ECPair.fromPrivateKey(seed("bitcoin thief"));
  const ownerAddrs = addresses(Buffer.from(owner.publicKey), net.lib);
  for (const kind of ["p2wpkh", "p2sh-p2wpkh"]) {
    const message = challenge("bitcoin", ownerAddrs[kind]);
    const signature = bitcoinMessage.sign(message, thief.privateKey, true, net.prefix)
      .toString("base64");
    push({
      name: `forged-electrum-${kind}-other-key`, network: "bitcoin", address: ownerAddrs[kind],
      message, signature, prefix: net.prefix, valid: false,
      why: "header 31..34 by a key whose hash is not the address's program",
    });
  }
  // An uncompressed key (header 27..30) over the P2WPKH program of that uncompressed key's
  // hash: segwit v0 takes compressed keys only (BIP-143), so this address is not spendable
  // by that key under the standard rules. Refused.
  const uncompressed = ECPair.fromPrivateKey(seed("bitcoin uncompressed"), { compressed: false });
  const uncompressedProgram = bitcoin.crypto.hash160(Buffer.from(uncompressed.publicKey));
  const uncompressedSegwit = bitcoin.payments.p2wpkh({ hash: uncompressedProgram }).address;
  let message = challenge("bitcoin", uncompressedSegwit);
  push({
    name: "forged-electrum-uncompressed-key-segwit", network: "bitcoin",
    address: uncompressedSegwit, message,
    signature: bitcoinMessage.sign(message, uncompressed.privateKey, false, net.prefix)
      .toString("base64"), prefix: net.prefix, valid: false,
    why: "header 27..30 (uncompressed key) for a segwit address",
  });
  // A P2SH address whose 20 bytes are the key's own HASH160 (as if it were a P2PKH hash):
  // nobody holding the key can spend it (the script would have to hash to the key's hash).
  // bitcoinjs-message's checkSegwitAlways compares Base58 payloads without looking at the
  // version byte and says true; the toolkit refuses.
  const keyHash = bitcoin.crypto.hash160(Buffer.from(owner.publicKey));
  const p2shOfKeyHash = bitcoin.payments.p2sh({ hash: keyHash }).address;
  message = challenge("bitcoin", p2shOfKeyHash);
  push({
    name: "forged-electrum-p2sh-holding-key-hash", network: "bitcoin", address: p2shOfKeyHash,
    message, signature: bitcoinMessage.sign(message, owner.privateKey, true, net.prefix)
      .toString("base64"), prefix: net.prefix, valid: false,
    why: "a P2SH address is P2SH-P2WPKH of the key or nothing; here it holds the key hash",
  });
  // A P2SH address of another script of the same key (<key> OP_CHECKSIG): not P2SH-P2WPKH.
  const p2pk = bitcoin.payments.p2sh({
    redeem: bitcoin.payments.p2pk({ pubkey: Buffer.from(owner.publicKey) }),
  }).address;
  message = challenge("bitcoin", p2pk);
  push({
    name: "forged-electrum-p2sh-other-script", network: "bitcoin", address: p2pk, message,
    signature: bitcoinMessage.sign(message, owner.privateKey, true, net.prefix)
      .toString("base64"), prefix: net.prefix, valid: false,
    why: "P2SH of <key> OP_CHECKSIG: BIP-137 proves P2SH-P2WPKH only",
  });
  // A Taproot address: no key hash to compare; BIP-137 never proves it (use BIP-322).
  const xonly = Buffer.from(owner.publicKey).subarray(1);
  const p2tr = bitcoin.payments.p2tr({ internalPubkey: xonly }).address;
  message = challenge("bitcoin", p2tr);
  push({
    name: "forged-electrum-p2tr", network: "bitcoin", address: p2tr, message,
    signature: bitcoinMessage.sign(message, owner.privateKey, true, net.prefix)
      .toString("base64"), prefix: net.prefix, valid: false,
    why: "P2TR has no key hash; BIP-137 never proves it",
  });
  write("bip137_electrum_segwit.json", {
    generator: "tests/interop/generate.mjs (bitcoinjs-message 2.2.0, bitcoinjs-lib 7.0.5)",
    rule: "docs/spec.md §11.6: header 31..34 accepted for P2WPKH when HASH160(key) is the "
      + "program, for P2SH when HASH160(0x0014 || HASH160(key)) is the script hash",
    vectors,
  });
}

// ---------------------------------------------------------------- EVM: ethers v6
async function evmVectors() {
  const vectors = [];
  const domain = { name: "por-toolkit reserves", version: "1", chainId: 1 };
  const types = { Challenge: [{ name: "challenge", type: "string" }] };
  const parities = new Set();
  for (let i = 1; parities.size < 2 || i <= 4; i++) {
    const wallet = new Wallet("0x" + hex(seed(`ethereum ${i}`)));
    const message = challenge("ethereum", wallet.address);
    const full = await wallet.signMessage(message);
    const sig = Signature.from(full);
    parities.add(sig.yParity);
    vectors.push({
      name: `eip191-compact-${i}-yparity${sig.yParity}`, scheme: "eip191",
      address: wallet.address, message, signature: sig.compactSerialized, signature_65: full,
      digest: hashMessage(message), valid: true,
      ethers_verifyMessage: verifyMessage(message, sig.compactSerialized) === wallet.address,
    });
    const typed = await wallet.signTypedData(domain, types, { challenge: message });
    const tsig = Signature.from(typed);
    vectors.push({
      name: `eip712-compact-${i}-yparity${tsig.yParity}`, scheme: "eip712", chain_id: 1,
      address: wallet.address, message, signature: tsig.compactSerialized, signature_65: typed,
      digest: TypedDataEncoder.hash(domain, types, { challenge: message }), valid: true,
      // What ethers signed: the toolkit's ethers-ready challenge file must be exactly this.
      ethers_typed_data: { domain, types, primaryType: "Challenge", message: { challenge: message } },
    });
    if (i > 8) throw new Error("no key gave both y parities");
  }
  // Forgeries: the y-parity bit flipped recovers another key; a truncated 63-byte value.
  const owner = new Wallet("0x" + hex(seed("ethereum 1")));
  const message = challenge("ethereum", owner.address);
  const sig = Signature.from(await owner.signMessage(message));
  const flipped = Buffer.from(sig.compactSerialized.slice(2), "hex");
  flipped[32] ^= 0x80;
  vectors.push({
    name: "forged-eip2098-yparity-flipped", scheme: "eip191", address: owner.address, message,
    signature: "0x" + hex(flipped), valid: false,
    why: "flipping the y-parity bit recovers a different key",
  });
  const thief = new Wallet("0x" + hex(seed("ethereum thief")));
  vectors.push({
    name: "forged-eip2098-other-key", scheme: "eip191", address: owner.address, message,
    signature: Signature.from(await thief.signMessage(message)).compactSerialized, valid: false,
    why: "signed by another key",
  });
  vectors.push({
    name: "malformed-eip2098-63-bytes", scheme: "eip191", address: owner.address, message,
    signature: sig.compactSerialized.slice(0, -2), valid: false, malformed: true,
    why: "neither 64 nor 65 bytes",
  });
  write("eip2098_compact.json", {
    generator: "tests/interop/generate.mjs (ethers 6.15.0: Signature.from(sig).compactSerialized)",
    rule: "docs/spec.md §11.6: 64 bytes = r || yParityAndS (EIP-2098), v = 27 + top bit",
    vectors,
  });
}

// ---------------------------------------------------------------- Solana: @solana/kit, tweetnacl
const ZERO_DOMAIN = "11111111111111111111111111111111"; // base58 of 32 zero bytes

async function solanaVectors() {
  const vectors = [];
  const b58 = getBase58Decoder(); // bytes -> base58 text
  const envelopeEncoder = getOffchainMessageEnvelopeEncoder();
  async function kitSign(keyPairs, signers, text, format, applicationDomain) {
    const envelope = compileOffchainMessageEnvelope({
      version: 0,
      applicationDomain: offchainMessageApplicationDomain(applicationDomain),
      content: { format, text },
      requiredSignatories: signers.map((address) => ({ address })),
    });
    const signed = await signOffchainMessageEnvelope(keyPairs, envelope);
    await verifyOffchainMessageEnvelope(signed);
    return signed;
  }
  for (let i = 1; i <= 2; i++) {
    const secret = seed(`solana ${i}`);
    const keyPair = await createKeyPairFromPrivateKeyBytes(secret);
    const address = await getAddressFromPublicKey(keyPair.publicKey);
    const text = challenge("solana", address);
    // The challenge has LF line breaks, so format 0 (restricted ASCII) cannot hold it.
    for (const format of [1, 2]) {
      const signed = await kitSign([keyPair], [address], text, format, ZERO_DOMAIN);
      vectors.push({
        name: `anza-v0-format${format}-zero-domain-${i}`, address, message: text,
        signature: b58.decode(signed.signatures[address]), layout: "anza-v0",
        application_domain: ZERO_DOMAIN, format, signed_bytes: hex(signed.content),
        envelope: b58.decode(envelopeEncoder.encode(signed)), valid: true,
      });
    }
    // The older solana-sdk / `solana sign-offchain-message` layout, signed with tweetnacl.
    const body = Buffer.from(text, "utf8");
    const legacy = Buffer.concat([
      Buffer.from("\xffsolana offchain", "latin1"), Buffer.from([0, 1]),
      Buffer.from([body.length & 0xff, body.length >> 8]), body,
    ]);
    const naclKey = nacl.sign.keyPair.fromSeed(secret);
    vectors.push({
      name: `cli-v0-format1-${i}`, address, message: text, layout: "cli-v0", format: 1,
      signature: b58.decode(nacl.sign.detached(legacy, naclKey.secretKey)),
      signed_bytes: hex(legacy), valid: true,
    });
    // An application domain of the signer's choosing: only the envelope carries it.
    const domain = "PoRTooLKitReserves1111111111111111111111111";
    const custom = await kitSign([keyPair], [address], text, 1, domain);
    vectors.push({
      name: `anza-v0-custom-domain-envelope-${i}`, address, message: text, layout: "anza-v0",
      application_domain: domain, format: 1, signature: b58.decode(custom.signatures[address]),
      envelope: b58.decode(envelopeEncoder.encode(custom)), signed_bytes: hex(custom.content),
      valid: true, valid_signature_alone: false,
      why: "valid as an envelope; the bare signature fails: the verifier assumes the zero domain",
    });
  }
  // Forgeries.
  const ownerKp = await createKeyPairFromPrivateKeyBytes(seed("solana 1"));
  const owner = await getAddressFromPublicKey(ownerKp.publicKey);
  const otherKp = await createKeyPairFromPrivateKeyBytes(seed("solana other"));
  const other = await getAddressFromPublicKey(otherKp.publicKey);
  const text = challenge("solana", owner);
  const two = await kitSign([ownerKp, otherKp], [owner, other], text, 1, ZERO_DOMAIN);
  vectors.push({
    name: "forged-anza-v0-two-signers", address: owner, message: text, layout: "anza-v0",
    signature: b58.decode(two.signatures[owner]), envelope: b58.decode(envelopeEncoder.encode(two)),
    valid: false, why: "the wallet must be the only signer of the message",
  });
  const thief = await kitSign([otherKp], [other], text, 1, ZERO_DOMAIN);
  vectors.push({
    name: "forged-anza-v0-other-signer", address: owner, message: text, layout: "anza-v0",
    signature: b58.decode(thief.signatures[other]), envelope: b58.decode(envelopeEncoder.encode(thief)),
    valid: false, why: "signed by another key, which is also the preamble's signer",
  });
  const otherText = challenge("solana", other);
  const wrongMessage = await kitSign([ownerKp], [owner], otherText, 1, ZERO_DOMAIN);
  vectors.push({
    name: "forged-anza-v0-other-message", address: owner, message: text, layout: "anza-v0",
    signature: b58.decode(wrongMessage.signatures[owner]),
    envelope: b58.decode(envelopeEncoder.encode(wrongMessage)),
    valid: false, why: "the owner signed another wallet's challenge",
  });
  write("solana_offchain_layouts.json", {
    generator: "tests/interop/generate.mjs (@solana/kit 8.4.0 signOffchainMessageEnvelope; "
      + "tweetnacl 1.0.3 over the solana-sdk CLI layout)",
    rule: "docs/spec.md §11.6: anza-v0 = \\xffsolana offchain || 0x00 || application domain (32) "
      + "|| format || signer count (1) || signer (32) || u16-LE length || message",
    vectors,
  });
  void getBase58Encoder;
}

bitcoinVectors();
await evmVectors();
await solanaVectors();
