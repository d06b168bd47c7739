"""The reserves file and the wallet list: strict models of what an exchange claims (spec §11).

Owns parsing (exact field sets, amounts as decimal strings of base units, scheme and version
checked), address decoding per chain kind, and serialisation. Parsing checks *form* only:
an address that cannot be decoded, a repeated address or a bad signature are *findings* of
:mod:`verifier.reserves.verify`, so an auditor sees every one of them, not the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError
from verifier.liabilities.mst import Asset, check_round_id
from verifier.liabilities.summary import assets_to_json, parse_assets
from verifier.reserves.challenge import (
    ChainSnapshot,
    check_chain_name,
    check_exchange_name,
    check_static_message,
)
from verifier.signatures.bitcoin import (
    BITCOIN,
    BITCOIN_TESTNET,
    DOGECOIN,
    LITECOIN,
    BitcoinNetwork,
    decode_address,
)
from verifier.signatures.eip55 import checksum_address
from verifier.signatures.solana import decode_solana_address

RESERVES_SCHEME = "por-reserves"  # spec §11.1
WALLETS_SCHEME = "por-wallets"  # spec §11.3
RESERVES_VERSION = 1

CHAIN_KINDS = ("evm", "bitcoin", "solana")
CUSTODY_KINDS = ("single", "multisig", "contract")
SOURCE_NODE = "node"
SOURCE_REPORTED = "reported"  # spec §11.1: offline balances, never counted as confirmed
REPORTED_CAVEAT = "reported by the exchange, not read from a node"

# Regtest encodings (Bitcoin Core chainparams; Litecoin Core 0.21 chainparams for ltc).
BITCOIN_REGTEST = BitcoinNetwork(
    "bitcoin-regtest", "Bitcoin Signed Message:\n", 0x6F, (0xC4,), "bcrt"
)
LITECOIN_TESTNET = BitcoinNetwork(
    "litecoin-testnet", "Litecoin Signed Message:\n", 0x6F, (0x3A, 0xC4), "tltc"
)
LITECOIN_REGTEST = BitcoinNetwork(
    "litecoin-regtest", "Litecoin Signed Message:\n", 0x6F, (0x3A, 0xC4), "rltc"
)
BITCOIN_NETWORKS: Mapping[str, BitcoinNetwork] = {
    "bitcoin": BITCOIN,
    "bitcoin-testnet": BITCOIN_TESTNET,
    "bitcoin-regtest": BITCOIN_REGTEST,
    "litecoin": LITECOIN,
    "litecoin-testnet": LITECOIN_TESTNET,
    "litecoin-regtest": LITECOIN_REGTEST,
    "dogecoin": DOGECOIN,
}
SOLANA_NETWORKS = ("mainnet", "testnet", "devnet", "localnet")

_EVM_CHAIN_ID_RE = re.compile(r"[1-9][0-9]{0,18}")
_HEX_RE = re.compile(r"(?:[0-9a-f]{2})+")


def _parse_version(raw: Mapping[str, Any], where: str, scheme: str) -> None:
    found = sj.string(raw["scheme"], f"{where}.scheme")
    version = sj.integer(raw["version"], f"{where}.version")
    if found != scheme or version != RESERVES_VERSION:
        raise FormatError(
            f"{where}: scheme {found!r} version {version} is not known to this verifier"
            f" (it checks {scheme!r} version {RESERVES_VERSION})"
        )


@dataclass(frozen=True)
class ChainAsset:
    """An asset counted on a chain: native (``token`` None) or a token contract / mint."""

    symbol: str
    token: str | None


@dataclass(frozen=True)
class Chain:
    """One chain of the round: its kind, network, assets and (in a reserves file) snapshot.

    Attributes:
        name: Name used in messages and ``--rpc NAME=URL``.
        kind: ``evm``, ``bitcoin`` (Bitcoin family) or ``solana``.
        network: EVM: the decimal chain id; Bitcoin family: a key of
            :data:`BITCOIN_NETWORKS`; Solana: one of :data:`SOLANA_NETWORKS`.
        assets: What is counted on this chain.
        height: Snapshot block number (slot for Solana); ``None`` in a wallet list.
        block_hash: Snapshot block hash (64 lowercase hex); ``None`` in a wallet list.
    """

    name: str
    kind: str
    network: str
    assets: tuple[ChainAsset, ...]
    height: int | None = None
    block_hash: str | None = None

    @property
    def identity(self) -> tuple[str, str]:
        """What the chain *is* (spec §11.1): ``(kind, network)``; the name is a label."""
        return (self.kind, self.network)

    @property
    def chain_id(self) -> int:
        """The EVM chain id.

        Raises:
            FormatError: not an EVM chain.
        """
        if self.kind != "evm":
            raise FormatError(f"chain {self.name}: not an EVM chain")
        return int(self.network)

    @property
    def bitcoin_network(self) -> BitcoinNetwork:
        """The Bitcoin-family encoding parameters.

        Raises:
            FormatError: not a Bitcoin-family chain.
        """
        if self.kind != "bitcoin":
            raise FormatError(f"chain {self.name}: not a Bitcoin-family chain")
        return BITCOIN_NETWORKS[self.network]

    def asset(self, symbol: str) -> ChainAsset:
        """The chain's entry for ``symbol``.

        Raises:
            FormatError: the asset is not counted on this chain.
        """
        for entry in self.assets:
            if entry.symbol == symbol:
                return entry
        raise FormatError(f"chain {self.name}: asset {symbol} is not listed for this chain")

    def snapshot(self) -> ChainSnapshot:
        """The snapshot as it enters the challenge message.

        Raises:
            FormatError: the chain has no snapshot (a wallet list, not a reserves file).
        """
        if self.height is None or self.block_hash is None:
            raise FormatError(f"chain {self.name}: no snapshot height and block hash")
        return ChainSnapshot(self.name, self.height, self.block_hash)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this chain."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "network": self.network,
            "assets": [{"symbol": a.symbol, "token": a.token} for a in self.assets],
        }
        if self.height is not None:
            out["height"] = self.height
            out["block_hash"] = self.block_hash
        return out


def parse_chain(value: Any, where: str, *, with_snapshot: bool) -> Chain:
    """Parse one chain entry (spec §11.1); the snapshot fields are required iff asked.

    Raises:
        FormatError: malformed, unknown kind or network, bad token address.
    """
    fields = {"name", "kind", "network", "assets"}
    if with_snapshot:
        fields |= {"height", "block_hash"}
    raw = sj.obj(value, where, fields)
    name = check_chain_name(sj.string(raw["name"], f"{where}.name"))
    kind = sj.string(raw["kind"], f"{where}.kind")
    network = sj.string(raw["network"], f"{where}.network")
    if kind not in CHAIN_KINDS:
        raise FormatError(f"{where}.kind: {kind!r} is not one of {list(CHAIN_KINDS)}")
    if kind == "evm" and not _EVM_CHAIN_ID_RE.fullmatch(network):
        raise FormatError(f"{where}.network: an EVM chain id in decimal, found {network!r}")
    if kind == "bitcoin" and network not in BITCOIN_NETWORKS:
        raise FormatError(f"{where}.network: {network!r} is not one of {list(BITCOIN_NETWORKS)}")
    if kind == "solana" and network not in SOLANA_NETWORKS:
        raise FormatError(f"{where}.network: {network!r} is not one of {list(SOLANA_NETWORKS)}")
    assets = []
    for i, item in enumerate(sj.array(raw["assets"], f"{where}.assets")):
        entry = sj.obj(item, f"{where}.assets[{i}]", {"symbol", "token"})
        symbol = Asset(sj.string(entry["symbol"], f"{where}.assets[{i}].symbol"), 0).symbol
        token = entry["token"]
        if token is not None:
            token = sj.string(token, f"{where}.assets[{i}].token")
            if kind == "evm":
                token = checksum_address(token)
            elif kind == "solana":
                decode_solana_address(token)
            else:
                raise FormatError(f"{where}.assets[{i}]: a Bitcoin-family chain has no tokens")
        assets.append(ChainAsset(symbol, token))
    if len({a.symbol for a in assets}) != len(assets) or not assets:
        raise FormatError(f"{where}.assets: expected at least one asset, none repeated")
    # One balance under two symbols is counted twice (spec §11.1): a chain has at most one
    # native asset, and a token contract (mint) appears once.
    natives = [a.symbol for a in assets if a.token is None]
    if len(natives) > 1:
        raise FormatError(f"{where}.assets: the native coin is listed under {len(natives)} "
                          f"symbols {natives}; it would be counted once per symbol")
    tokens: dict[str, str] = {}
    for a in assets:
        if a.token is None:
            continue
        if a.token in tokens:
            raise FormatError(f"{where}.assets: token {a.token} is listed as both "
                              f"{tokens[a.token]} and {a.symbol}; it would be counted twice")
        tokens[a.token] = a.symbol
    height = block_hash = None
    if with_snapshot:
        height = sj.integer(raw["height"], f"{where}.height")
        if height < 0:
            raise FormatError(f"{where}.height: negative")
        block_hash = sj.hash_hex(raw["block_hash"], f"{where}.block_hash").hex()
    return Chain(name, kind, network, tuple(assets), height, block_hash)


def normalize_address(chain: Chain, address: str) -> str:
    """Decode ``address`` for ``chain`` and return its canonical form (EVM: EIP-55).

    Raises:
        FormatError: the address cannot be decoded for this chain's kind and network.
    """
    if chain.kind == "evm":
        return checksum_address(address)
    if chain.kind == "bitcoin":
        decoded = decode_address(address, chain.bitcoin_network)
        if decoded.kind == "witness-unknown":
            raise FormatError(f"address {address!r}: unknown witness version, not spendable")
        # bech32 is case-insensitive; the canonical form is lowercase.
        return address.lower() if decoded.kind in ("p2wpkh", "p2wsh", "p2tr") else address
    decode_solana_address(address)
    return address


def wallet_identity(chain: Chain, address: str) -> tuple[str, str, str]:
    """What a wallet *is* (spec §11.4): ``(kind, network, canonical address)``.

    EVM: the lowercase 20 bytes (checksum-insensitive); Bitcoin family: the output script
    the address pays (its type and hash or witness program), so bech32 in any case and
    Litecoin's two P2SH prefixes name one wallet; Solana: the 32-byte key.

    Raises:
        FormatError: the address cannot be decoded for this chain.
    """
    if chain.kind == "evm":
        canonical = checksum_address(address).lower()
    elif chain.kind == "bitcoin":
        normalize_address(chain, address)
        decoded = decode_address(address, chain.bitcoin_network)
        canonical = f"{decoded.kind}:{decoded.program.hex()}"
    else:
        canonical = decode_solana_address(address).hex()
    return (chain.kind, chain.network, canonical)


@dataclass(frozen=True)
class Custody:
    """How a wallet is controlled: one key, an m-of-n script, or a contract (EIP-1271)."""

    kind: str
    script: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this custody."""
        if self.kind == "multisig":
            assert self.script is not None
            return {"kind": "multisig", "script": self.script.hex()}
        return {"kind": self.kind}


def parse_custody(value: Any, where: str) -> Custody:
    """Parse ``{"kind": "single"|"contract"}`` or ``{"kind": "multisig", "script": hex}``.

    Raises:
        FormatError: unknown kind, or a multisig without a hex script.
    """
    if isinstance(value, dict) and value.get("kind") == "multisig":
        raw = sj.obj(value, where, {"kind", "script"})
        text = sj.string(raw["script"], f"{where}.script")
        if not _HEX_RE.fullmatch(text):
            raise FormatError(f"{where}.script: expected lowercase hex of the redeem script")
        return Custody("multisig", bytes.fromhex(text))
    raw = sj.obj(value, where, {"kind"})
    kind = sj.string(raw["kind"], f"{where}.kind")
    if kind not in CUSTODY_KINDS:
        raise FormatError(f"{where}.kind: {kind!r} is not one of {list(CUSTODY_KINDS)}")
    return Custody(kind)


@dataclass(frozen=True)
class Signature:
    """A wallet's signature: a scheme name and its value (a list for multisig)."""

    scheme: str
    value: str | tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this signature."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"scheme": self.scheme, "value": value}


def parse_signature(value: Any, where: str) -> Signature:
    """Parse ``{"scheme": str, "value": str | [str, ...]}``; the scheme is judged later.

    Raises:
        FormatError: not of that form.
    """
    raw = sj.obj(value, where, {"scheme", "value"})
    scheme = sj.string(raw["scheme"], f"{where}.scheme")
    if isinstance(raw["value"], list):
        items = tuple(sj.string(v, f"{where}.value[{i}]") for i, v in enumerate(raw["value"]))
        return Signature(scheme, items)
    return Signature(scheme, sj.string(raw["value"], f"{where}.value"))


@dataclass(frozen=True)
class Utxo:
    """One unspent output counted in a Bitcoin-family balance (spec §11.1)."""

    txid: str
    vout: int
    amount: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this output."""
        return {"txid": self.txid, "vout": self.vout, "amount": str(self.amount),
                "height": self.height}


@dataclass(frozen=True)
class Balance:
    """One asset's balance in a wallet, with where it came from and its evidence."""

    asset: str
    amount: int
    source: str
    utxos: tuple[Utxo, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this balance."""
        out: dict[str, Any] = {"asset": self.asset, "amount": str(self.amount),
                               "source": self.source}
        if self.utxos is not None:
            out["utxos"] = [u.to_dict() for u in self.utxos]
        return out


def parse_balance(value: Any, where: str) -> Balance:
    """Parse one balance; ``utxos`` is present for Bitcoin-family balances read from a node.

    Raises:
        FormatError: malformed, unknown source, bad UTXO entries.
    """
    raw = sj.obj(value, where, {"asset", "amount", "source"}, frozenset({"utxos"}))
    source = sj.string(raw["source"], f"{where}.source")
    if source not in (SOURCE_NODE, SOURCE_REPORTED):
        raise FormatError(f"{where}.source: {source!r}, expected 'node' or 'reported'")
    utxos = None
    if "utxos" in raw:
        items = []
        for i, item in enumerate(sj.array(raw["utxos"], f"{where}.utxos")):
            w = f"{where}.utxos[{i}]"
            entry = sj.obj(item, w, {"txid", "vout", "amount", "height"})
            txid = sj.hash_hex(entry["txid"], f"{w}.txid").hex()
            vout = sj.integer(entry["vout"], f"{w}.vout")
            height = sj.integer(entry["height"], f"{w}.height")
            if vout < 0 or height < 0:
                raise FormatError(f"{w}: negative vout or height")
            items.append(Utxo(txid, vout, sj.amount(entry["amount"], f"{w}.amount"), height))
        utxos = tuple(items)
    return Balance(
        asset=sj.string(raw["asset"], f"{where}.asset"),
        amount=sj.amount(raw["amount"], f"{where}.amount"),
        source=source,
        utxos=utxos,
    )


@dataclass(frozen=True)
class Wallet:
    """One wallet's claim: where, how it is held, what it signed and what it holds.

    ``address`` is kept exactly as published; decoding it is a check of the verifier.
    """

    chain: str
    address: str
    custody: Custody
    assets: tuple[str, ...]
    message: str = "round"
    signed_message: str | None = None
    signature: Signature | None = None
    balances: tuple[Balance, ...] = ()

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        """The JSON object of this wallet (``full``: with message, signature, balances)."""
        out: dict[str, Any] = {
            "chain": self.chain,
            "address": self.address,
            "custody": self.custody.to_dict(),
            "assets": list(self.assets),
        }
        if full:
            out["message"] = self.message
            out["signed_message"] = self.signed_message
            out["signature"] = self.signature.to_dict() if self.signature else None
            out["balances"] = [b.to_dict() for b in self.balances]
        return out


def parse_wallet(value: Any, where: str, *, full: bool) -> Wallet:
    """Parse one wallet entry of a wallet list (``full=False``) or a reserves file.

    Raises:
        FormatError: malformed or unknown fields.
    """
    fields = {"chain", "address", "custody", "assets"}
    if full:
        fields |= {"message", "signed_message", "signature", "balances"}
    raw = sj.obj(value, where, fields)
    assets = tuple(
        sj.string(a, f"{where}.assets[{i}]")
        for i, a in enumerate(sj.array(raw["assets"], f"{where}.assets"))
    )
    if not assets or len(set(assets)) != len(assets):
        raise FormatError(f"{where}.assets: expected at least one asset, none repeated")
    wallet = Wallet(
        chain=sj.string(raw["chain"], f"{where}.chain"),
        address=sj.string(raw["address"], f"{where}.address"),
        custody=parse_custody(raw["custody"], f"{where}.custody"),
        assets=assets,
    )
    if not full:
        return wallet
    message = sj.string(raw["message"], f"{where}.message")
    if message not in ("round", "static"):
        raise FormatError(f"{where}.message: {message!r}, expected 'round' or 'static'")
    balances = tuple(
        parse_balance(b, f"{where}.balances[{i}]")
        for i, b in enumerate(sj.array(raw["balances"], f"{where}.balances"))
    )
    return Wallet(
        chain=wallet.chain,
        address=wallet.address,
        custody=wallet.custody,
        assets=wallet.assets,
        message=message,
        signed_message=sj.string(raw["signed_message"], f"{where}.signed_message"),
        signature=parse_signature(raw["signature"], f"{where}.signature"),
        balances=balances,
    )


def _parse_chains(value: Any, where: str, *, with_snapshot: bool,
                  symbols: Sequence[str]) -> tuple[Chain, ...]:
    chains = tuple(
        parse_chain(c, f"{where}[{i}]", with_snapshot=with_snapshot)
        for i, c in enumerate(sj.array(value, where))
    )
    check_chains(chains, where, symbols)
    return chains


def check_chains(chains: Sequence[Chain], where: str, symbols: Sequence[str]) -> None:
    """The rules of spec §11.1 across chains: one entry per chain identity, known symbols.

    A chain is identified by ``(kind, network)``, never by its name: two entries for one
    network (``ethereum`` and ``ethereum-l1``, both chain id 1) would count every wallet
    listed under each twice. Two snapshots with one block hash are one chain too.

    Raises:
        FormatError: no chain, a repeated name, identity or block hash, or an asset symbol
            that is not in the file's asset list.
    """
    names = [c.name for c in chains]
    if not chains or len(set(names)) != len(names):
        raise FormatError(f"{where}: expected at least one chain, no name repeated: {names}")
    identities: dict[tuple[str, str], str] = {}
    hashes: dict[str, str] = {}
    for chain in chains:
        first = identities.setdefault(chain.identity, chain.name)
        if first != chain.name:
            raise FormatError(
                f"{where}: chains {first!r} and {chain.name!r} are the same chain ({chain.kind} "
                f"network {chain.network}); a chain is listed once, or its wallets would be "
                "counted twice")
        if chain.block_hash is not None:
            other = hashes.setdefault(chain.block_hash, chain.name)
            if other != chain.name:
                raise FormatError(f"{where}: chains {other!r} and {chain.name!r} name the same "
                                  f"snapshot block {chain.block_hash}: one chain listed twice")
        for entry in chain.assets:
            if entry.symbol not in symbols:
                raise FormatError(f"{where}: chain {chain.name} lists asset {entry.symbol}, "
                                  f"which is not in the file's assets {list(symbols)}")


def check_wallet_refs(chains: Sequence[Chain], wallets: Sequence[Wallet], where: str, *,
                      balances: bool, allow_unread: bool = False) -> None:
    """Each wallet names a chain of the file and lists assets of that chain (spec §11.1).

    With ``balances``: exactly one balance per listed asset, in the order of ``assets``
    (``allow_unread``: or none yet, in the operator's draft).

    Raises:
        FormatError: a wallet on a chain the file does not have, an asset its chain does
            not list, or balances that are not exactly its assets.
    """
    by_name = {c.name: c for c in chains}
    for i, wallet in enumerate(wallets):
        at = f"{where}[{i}]"
        chain = by_name.get(wallet.chain)
        if chain is None:
            raise FormatError(f"{at}.chain: {wallet.chain!r} is not a chain of the file "
                              f"({list(by_name)})")
        listed = {a.symbol for a in chain.assets}
        for symbol in wallet.assets:
            if symbol not in listed:
                raise FormatError(f"{at}.assets: {symbol} is not an asset of chain "
                                  f"{chain.name} ({sorted(listed)})")
        if not balances or (allow_unread and not wallet.balances):
            continue
        found = [b.asset for b in wallet.balances]
        if found != list(wallet.assets):
            raise FormatError(f"{at}.balances: expected one balance per asset in the order of "
                              f"assets {list(wallet.assets)}, found {found}")


@dataclass(frozen=True)
class WalletList:
    """The exchange's wallet list for a round (spec §11.3): chains, assets, wallets."""

    exchange: str
    assets: tuple[Asset, ...]
    chains: tuple[Chain, ...]
    wallets: tuple[Wallet, ...]

    FIELDS = frozenset({"scheme", "version", "exchange", "assets", "chains", "wallets"})

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "wallet list") -> WalletList:
        """Parse a wallet list strictly (form only; addresses are checked by the importer).

        Raises:
            FormatError: anything malformed, unknown or missing.
        """
        raw = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        _parse_version(raw, what, WALLETS_SCHEME)
        assets = parse_assets(raw["assets"], f"{what}.assets")
        chains = _parse_chains(raw["chains"], f"{what}.chains", with_snapshot=False,
                               symbols=[a.symbol for a in assets])
        wallets = tuple(
            parse_wallet(w, f"{what}.wallets[{i}]", full=False)
            for i, w in enumerate(sj.array(raw["wallets"], f"{what}.wallets"))
        )
        check_wallet_refs(chains, wallets, f"{what}.wallets", balances=False)
        return cls(
            exchange=check_exchange_name(sj.string(raw["exchange"], f"{what}.exchange")),
            assets=assets,
            chains=chains,
            wallets=wallets,
        )

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return json.dumps({
            "scheme": WALLETS_SCHEME,
            "version": RESERVES_VERSION,
            "exchange": self.exchange,
            "assets": assets_to_json(self.assets),
            "chains": [c.to_dict() for c in self.chains],
            "wallets": [w.to_dict(full=False) for w in self.wallets],
        }, indent=2) + "\n"


@dataclass(frozen=True)
class ReservesFile:
    """A round's reserves file (spec §11.1): what the exchange claims, with its evidence."""

    exchange: str
    round_id: str
    liabilities_root: bytes
    assets: tuple[Asset, ...]
    chains: tuple[Chain, ...]
    static_message: str | None
    wallets: tuple[Wallet, ...]
    totals: tuple[int, ...]
    raw_bytes: bytes = field(default=b"", compare=False)

    FIELDS = frozenset({
        "scheme", "version", "exchange", "round", "liabilities_root", "assets", "chains",
        "static_message", "wallets", "totals",
    })

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "reserves file", *,
                  allow_unread: bool = False) -> ReservesFile:
        """Parse a reserves file strictly; the exact bytes are kept (``raw_bytes``).

        ``allow_unread`` admits wallets without balances yet (the operator's draft only).

        Raises:
            FormatError: anything malformed, unknown or missing; two entries for one chain
                or one token; a wallet on a chain the file does not have, or whose
                balances are not exactly its assets (spec §11.1).
        """
        raw = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        _parse_version(raw, what, RESERVES_SCHEME)
        assets = parse_assets(raw["assets"], f"{what}.assets")
        static = raw["static_message"]
        if static is not None:
            static = check_static_message(sj.string(static, f"{what}.static_message"))
        chains = _parse_chains(raw["chains"], f"{what}.chains", with_snapshot=True,
                               symbols=[a.symbol for a in assets])
        wallets = tuple(
            parse_wallet(w, f"{what}.wallets[{i}]", full=True)
            for i, w in enumerate(sj.array(raw["wallets"], f"{what}.wallets"))
        )
        check_wallet_refs(chains, wallets, f"{what}.wallets", balances=True,
                          allow_unread=allow_unread)
        return cls(
            exchange=check_exchange_name(sj.string(raw["exchange"], f"{what}.exchange")),
            round_id=check_round_id(sj.string(raw["round"], f"{what}.round")),
            liabilities_root=sj.hash_hex(raw["liabilities_root"], f"{what}.liabilities_root"),
            assets=assets,
            chains=chains,
            static_message=static,
            wallets=wallets,
            totals=tuple(sj.amounts(raw["totals"], f"{what}.totals", len(assets))),
            raw_bytes=data.encode() if isinstance(data, str) else data,
        )

    def chain(self, name: str) -> Chain | None:
        """The chain called ``name``, or ``None``."""
        return next((c for c in self.chains if c.name == name), None)

    def counted_wallets(self) -> tuple[Wallet, ...]:
        """The wallets that may count, each wallet identity once (spec §11.4, §13.3).

        A wallet is ``(kind, network, canonical address)``: a later entry with the identity
        of an earlier one is a finding of the verifier (``duplicate-address``), never a
        second count; an address that cannot be decoded counts for nothing.
        """
        seen: set[tuple[str, str, str]] = set()
        out = []
        for wallet in self.wallets:
            chain = self.chain(wallet.chain)
            if chain is None:
                continue
            try:
                identity = wallet_identity(chain, wallet.address)
            except FormatError:
                continue
            if identity not in seen:
                seen.add(identity)
                out.append(wallet)
        return tuple(out)

    def snapshots(self) -> Sequence[ChainSnapshot]:
        """Every chain's snapshot, as the challenge message lists them.

        Raises:
            FormatError: a chain has no snapshot.
        """
        return [c.snapshot() for c in self.chains]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this file."""
        return {
            "scheme": RESERVES_SCHEME,
            "version": RESERVES_VERSION,
            "exchange": self.exchange,
            "round": self.round_id,
            "liabilities_root": self.liabilities_root.hex(),
            "assets": assets_to_json(self.assets),
            "chains": [c.to_dict() for c in self.chains],
            "static_message": self.static_message,
            "wallets": [w.to_dict() for w in self.wallets],
            "totals": [str(t) for t in self.totals],
        }

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return json.dumps(self.to_dict(), indent=2) + "\n"
