"""Verifying a reserves file: every signature, every balance, every total (spec §11.4).

Owns the checks and the report. Chains are read only through the reader protocols of
:mod:`verifier.reserves.chains`, so this module does no I/O of its own. Every wallet is
checked and every problem becomes a :class:`Finding`; :meth:`ReservesReport.raise_for_failures`
is the one method that turns the report into a verdict. A balance counts as *confirmed* only
when a node chosen by the verifier returned it at the snapshot block and the wallet's
signature verified; anything else (reported offline, no node given, a failed check, a
static signature that proves control at some past time only) stays out of the confirmed
total, so it cannot pass silently. Each wallet identity (kind, network, canonical address)
counts once, and every chain asset is judged against the token registry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verifier.errors import CheckFailedError, FormatError, VerificationError
from verifier.liabilities.summary import format_units
from verifier.reserves.chains import (
    BitcoinReader,
    EvmReader,
    SolanaReader,
    eip1271_calldata,
    token_balance,
    token_decimals,
)
from verifier.reserves.challenge import STATIC_CAVEAT, challenge_message, eip712_challenge
from verifier.reserves.model import (
    REPORTED_CAVEAT,
    SOURCE_REPORTED,
    Balance,
    Chain,
    ReservesFile,
    Wallet,
    normalize_address,
    wallet_identity,
)
from verifier.reserves.rpc import NodeAnswerError
from verifier.reserves.tokens import NOT_CANONICAL, judge

if TYPE_CHECKING:
    from verifier.signatures.proof import SignatureProof

EIP1271_MAX_SIGNATURE_BYTES = 65 * 64  # up to 64 owner signatures
_EIP1271_SIGNATURE_RE = re.compile(rf"0x(?:[0-9a-fA-F]{{2}}){{1,{EIP1271_MAX_SIGNATURE_BYTES}}}")
Reader = EvmReader | BitcoinReader | SolanaReader

# Signature schemes per (chain kind, custody kind): spec §11.1.
SCHEMES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("bitcoin", "single"): ("bip137", "bip322"),
    ("bitcoin", "multisig"): ("bip137-multisig",),
    ("evm", "single"): ("eip191", "eip712"),
    ("evm", "contract"): ("eip1271",),
    ("solana", "single"): ("solana-offchain", "ed25519"),
}


@dataclass(frozen=True)
class Finding:
    """One problem with one wallet (or with the file as a whole, ``wallet`` None).

    ``code`` is one of: unknown-chain, undecodable-address, duplicate-address,
    unknown-scheme, malformed-signature, bad-signature, stale-message, static-not-allowed,
    missing-balance, unknown-asset, balance-mismatch, utxo-mismatch, utxo-spent,
    block-hash-mismatch, wrong-network, token-decimals-mismatch, token-not-canonical,
    not-confirmed, total-mismatch (spec §11.4).
    """

    code: str
    message: str
    wallet: int | None = None
    chain: str | None = None
    address: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.wallet is not None:
            where = f"wallet {self.wallet} ({self.chain} {self.address}): "
        return f"[{self.code}] {where}{self.message}"


@dataclass(frozen=True)
class SignatureLine:
    """One wallet's signature that verified, and which accepted encoding did (spec §11.6).

    ``scheme`` is the file's; ``rule`` the exact rule that verified (e.g. ``bip322-simple``,
    ``btc-multisig-bip137``); ``form`` the encoding (``strict`` or ``electrum-segwit``,
    ``65-byte`` or ``eip2098-compact``, ``cli-v0`` or ``anza-v0``), empty where the scheme
    has one encoding.
    """

    wallet: int
    chain: str
    address: str
    scheme: str
    rule: str
    form: str
    detail: str

    def __str__(self) -> str:
        form = f", form {self.form}" if self.form else ""
        return (f"wallet {self.wallet} ({self.chain} {self.address}): {self.scheme} verified "
                f"as {self.rule}{form} ({self.detail})")


@dataclass
class AssetLine:
    """Per asset: what the file claims, what the wallets list, what was confirmed.

    ``confirmed`` never includes ``past_control_only`` (node-read balances of wallets that
    signed a static message: control at some past time only) nor ``reported``.
    """

    symbol: str
    decimals: int
    claimed: int = 0
    listed: int = 0
    confirmed: int = 0
    reported: int = 0
    past_control_only: int = 0


@dataclass(frozen=True)
class TokenLine:
    """One asset of one chain as the report shows it: symbol beside its contract (mint).

    ``decimals_read`` is the ERC-20 ``decimals()`` at the snapshot block (None when not
    read); ``registry`` is the token registry's judgement (canonical, no registry entry,
    not canonical) and ``accepted`` says the auditor accepted a non-canonical one.
    """

    symbol: str
    token: str | None
    decimals_read: int | None
    registry: str
    registry_detail: str
    accepted: bool = False


@dataclass(frozen=True)
class ChainLine:
    """One chain of the file: its identity (kind, network id), snapshot and assets."""

    name: str
    kind: str
    network: str
    height: int | None
    block_hash: str | None
    assets: tuple[TokenLine, ...]


@dataclass(frozen=True)
class BlockScan:
    """Blocks after a Bitcoin-family snapshot read to see when recorded outputs were spent.

    ``first``..``last`` inclusive; ``spent`` outputs were looked for, ``found`` of them were
    spent in those blocks (so were unspent at the snapshot). ``skipped`` says why no block
    was read (more blocks than the verifier's bound), else ``None``.
    """

    chain: str
    first: int
    last: int
    spent: int
    found: int
    skipped: str | None = None

    def __str__(self) -> str:
        if self.skipped:
            return f"{self.chain}: {self.spent} output(s) spent since the snapshot: {self.skipped}"
        return (f"{self.chain}: read blocks {self.first}..{self.last} "
                f"({self.last - self.first + 1} blocks) for {self.spent} output(s) spent since "
                f"the snapshot; {self.found} were spent after it")


@dataclass
class ReservesReport:
    """Everything found while verifying a reserves file; one method raises on failure."""

    exchange: str
    round_id: str
    liabilities_root: str
    assets: list[AssetLine]
    findings: list[Finding] = field(default_factory=list)
    caveats: list[Finding] = field(default_factory=list)
    wallets_checked: int = 0
    scans: list[BlockScan] = field(default_factory=list)
    chains: list[ChainLine] = field(default_factory=list)
    signatures: list[SignatureLine] = field(default_factory=list)
    accept_past_control: bool = False
    accepted_noncanonical: tuple[str, ...] = ()

    def accounted(self, line: AssetLine) -> int:
        """What stands behind ``line``'s claim: confirmed, plus past-control-only balances
        when the user accepted them (``--accept-past-control``)."""
        return line.confirmed + (line.past_control_only if self.accept_past_control else 0)

    @property
    def ok(self) -> bool:
        """No finding, and every claimed amount was confirmed by a node (past-control-only
        balances count only when the user accepted them)."""
        return not self.findings and all(self.accounted(a) == a.claimed for a in self.assets)

    def shortfalls(self) -> list[str]:
        """One line per asset whose claimed total was not wholly confirmed."""
        lines = []
        for a in self.assets:
            if self.accounted(a) != a.claimed:
                note = ""
                if a.reported:
                    note = f" ({format_units(a.reported, a.decimals)} {REPORTED_CAVEAT})"
                if a.past_control_only and not self.accept_past_control:
                    note += (f" ({format_units(a.past_control_only, a.decimals)} in wallets "
                             "whose static signature proves control at some past time only: "
                             "never confirmed; --accept-past-control accepts them)")
                lines.append(
                    f"{a.symbol}: claimed {format_units(a.claimed, a.decimals)}, confirmed "
                    f"{format_units(a.confirmed, a.decimals)}{note}"
                )
        return lines

    def raise_for_failures(self) -> None:
        """Raise if any wallet failed or any claimed amount was not confirmed.

        Raises:
            CheckFailedError: listing every finding and every unconfirmed total.
        """
        if self.ok:
            return
        lines = [str(f) for f in self.findings] + self.shortfalls()
        raise CheckFailedError(
            f"reserves of {self.exchange} round {self.round_id}: {len(lines)} problem(s):\n  "
            + "\n  ".join(lines)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report (amounts as decimal strings of base units)."""
        def finding(f: Finding) -> dict[str, Any]:
            return {"code": f.code, "message": f.message, "wallet": f.wallet,
                    "chain": f.chain, "address": f.address}
        return {
            "verdict": "VERIFIED" if self.ok else "FAILED",
            "ok": self.ok,
            "exchange": self.exchange,
            "round": self.round_id,
            "liabilities_root": self.liabilities_root,
            "wallets_checked": self.wallets_checked,
            "accept_past_control": self.accept_past_control,
            "accepted_noncanonical_tokens": list(self.accepted_noncanonical),
            "chains": [
                {"name": c.name, "kind": c.kind, "network": c.network, "height": c.height,
                 "block_hash": c.block_hash, "assets": [
                     {"symbol": t.symbol, "token": t.token, "decimals_read": t.decimals_read,
                      "registry": t.registry, "registry_detail": t.registry_detail,
                      "accepted": t.accepted} for t in c.assets]}
                for c in self.chains
            ],
            "assets": [
                {"symbol": a.symbol, "decimals": a.decimals, "claimed": str(a.claimed),
                 "listed": str(a.listed), "confirmed": str(a.confirmed),
                 "reported_not_read": str(a.reported),
                 "past_control_only": str(a.past_control_only)}
                for a in self.assets
            ],
            "signatures": [
                {"wallet": s.wallet, "chain": s.chain, "address": s.address,
                 "scheme": s.scheme, "rule": s.rule, "form": s.form or None,
                 "detail": s.detail}
                for s in self.signatures
            ],
            "findings": [finding(f) for f in self.findings],
            "caveats": [finding(f) for f in self.caveats],
            "block_scans": [
                {"chain": b.chain, "first": b.first, "last": b.last, "spent": b.spent,
                 "found": b.found, "skipped": b.skipped}
                for b in self.scans
            ],
        }


_ROUND_LINE_RE = re.compile(r"^round: (.*)$", re.MULTILINE)


def _stale_reason(signed: str, expected: str) -> str:
    found = _ROUND_LINE_RE.search(signed)
    wanted = _ROUND_LINE_RE.search(expected)
    if found and wanted and found.group(1) != wanted.group(1):
        return f"the signed message is for round {found.group(1)!r}, not {wanted.group(1)!r}"
    for a, b in zip(signed.splitlines(), expected.splitlines(), strict=False):
        if a != b:
            return f"the signed message says {a[:100]!r} where this round's says {b[:100]!r}"
    return "the signed message is not this round's challenge message"


class _Verifier:
    def __init__(self, reserves: ReservesFile, readers: Mapping[str, Reader],
                 max_scan_blocks: int, accept_past_control: bool,
                 accept_noncanonical: frozenset[str]) -> None:
        self.file = reserves
        self.readers = readers
        self.max_scan_blocks = max_scan_blocks
        self.accept_noncanonical = accept_noncanonical
        # (chain, txid, vout) -> how the node sees a recorded output now; see spent_since().
        self.spent: dict[tuple[str, str, int], tuple[str, int, str]] = {}
        self.report = ReservesReport(
            exchange=reserves.exchange,
            round_id=reserves.round_id,
            liabilities_root=reserves.liabilities_root.hex(),
            assets=[AssetLine(a.symbol, a.decimals) for a in reserves.assets],
            accept_past_control=accept_past_control,
            accepted_noncanonical=tuple(sorted(accept_noncanonical)),
        )
        self.lines = {a.symbol: a for a in self.report.assets}
        self.bad_chains: set[str] = set()
        # (chain name, symbol) whose token failed a check: no balance of it is confirmed.
        self.bad_assets: set[tuple[str, str]] = set()

    def fail(self, code: str, message: str, index: int | None = None,
             wallet: Wallet | None = None) -> None:
        self.report.findings.append(Finding(
            code, message, index, wallet.chain if wallet else None,
            wallet.address if wallet else None,
        ))

    def run(self) -> ReservesReport:
        for line, total in zip(self.report.assets, self.file.totals, strict=True):
            line.claimed = total
        self.check_chains()
        for chain in self.file.chains:
            if chain.kind == "bitcoin" and chain.name not in self.bad_chains:
                self.spent_since(chain)
        seen: dict[tuple[str, str, str], int] = {}
        seen_utxos: dict[tuple[str, str, int], int] = {}
        for index, wallet in enumerate(self.file.wallets):
            self.check_wallet(index, wallet, seen, seen_utxos)
        self.report.wallets_checked = len(self.file.wallets)
        for line in self.report.assets:
            if line.listed != line.claimed:
                self.fail("total-mismatch",
                          f"{line.symbol}: the file's total is {line.claimed}, but its wallets' "
                          f"balances add up to {line.listed}")
        return self.report

    def check_chains(self) -> None:
        for chain in self.file.chains:
            reader = self.readers.get(chain.name)
            decimals: dict[str, int] = {}
            if reader is None:
                self.bad_chains.add(chain.name)
                self.fail("not-confirmed",
                          f"chain {chain.name}: no node given (--rpc {chain.name}=URL), so no "
                          "balance on it is confirmed")
            else:
                self.check_node(chain, reader)
                if chain.kind == "evm" and chain.name not in self.bad_chains:
                    decimals = self.check_decimals(chain, reader)  # type: ignore[arg-type]
            self.report.chains.append(ChainLine(
                chain.name, chain.kind, chain.network, chain.height, chain.block_hash,
                tuple(self.judge_token(chain, a.symbol, a.token, decimals.get(a.symbol))
                      for a in chain.assets)))

    def check_node(self, chain: Chain, reader: Reader) -> None:
        assert chain.height is not None
        if chain.kind == "evm":
            # The network id is the chain's identity (spec §11.1): a node of another network
            # must not confirm it, even where the block hash was copied from that network.
            served = reader.chain_id()  # type: ignore[union-attr]
            if served != chain.chain_id:
                self.bad_chains.add(chain.name)
                self.fail("wrong-network", f"chain {chain.name}: the file says chain id "
                          f"{chain.chain_id}, the node given serves chain id {served}")
                return
        found = reader.block_hash(chain.height)
        if found != chain.block_hash:
            self.bad_chains.add(chain.name)
            self.fail("block-hash-mismatch",
                      f"chain {chain.name}: the file names block {chain.block_hash} at "
                      f"height {chain.height}, the node has {found} (another chain or fork)")

    def check_decimals(self, chain: Chain, reader: EvmReader) -> dict[str, int]:
        """Every ERC-20's ``decimals()`` at the snapshot block must be the asset's."""
        assert chain.height is not None
        found: dict[str, int] = {}
        for entry in chain.assets:
            if entry.token is None:
                continue
            expected = self.lines[entry.symbol].decimals
            try:
                value = token_decimals(reader, entry.token, chain.height)
            except NodeAnswerError as e:
                self.bad_assets.add((chain.name, entry.symbol))
                self.fail("token-decimals-mismatch", f"chain {chain.name}: {entry.symbol} "
                          f"token {entry.token} answered no decimals() at block "
                          f"{chain.height}: {e}")
                continue
            found[entry.symbol] = value
            if value != expected:
                self.bad_assets.add((chain.name, entry.symbol))
                self.fail("token-decimals-mismatch", f"chain {chain.name}: {entry.symbol} "
                          f"token {entry.token} has {value} decimals at block {chain.height}, "
                          f"the file's asset {entry.symbol} has {expected}")
        return found

    def judge_token(self, chain: Chain, symbol: str, token: str | None,
                    decimals: int | None) -> TokenLine:
        judgement = judge(chain.kind, chain.network, symbol, token)
        accepted = False
        if judgement.status == NOT_CANONICAL:
            flag = f"{symbol}@{chain.network}"
            if flag in self.accept_noncanonical:
                accepted = True
                self.report.caveats.append(Finding(
                    "token-not-canonical-accepted", f"chain {chain.name}: {judgement.detail}; "
                    f"accepted by the auditor (--accept-noncanonical-token {flag})",
                    chain=chain.name))
            else:
                self.bad_assets.add((chain.name, symbol))
                self.fail("token-not-canonical", f"chain {chain.name} (network "
                          f"{chain.network}): {judgement.detail}; an auditor who knows why "
                          f"may accept it with --accept-noncanonical-token {flag}")
        return TokenLine(symbol, token, decimals, judgement.status, judgement.detail, accepted)

    def spent_since(self, chain: Chain) -> None:
        """Find when each recorded output that is spent *now* was spent (spec §11.4).

        Bitcoin Core keeps no past UTXO set. An output mined at or below the snapshot is
        unspent at the snapshot iff it is unspent now or its spending transaction is in a
        main-chain block above the snapshot height; so the blocks after the snapshot are read
        (``getblock`` verbosity 2, no index needed), at most ``max_scan_blocks`` of them.
        The tip is read *after* the ``gettxout`` answers, so a spend they saw is in a block
        at or below it.
        """
        reader: BitcoinReader = self.readers[chain.name]  # type: ignore[assignment]
        assert chain.height is not None
        wanted: set[tuple[str, int]] = set()
        for wallet in self.file.wallets:
            if wallet.chain != chain.name:
                continue
            for balance in wallet.balances:
                for utxo in balance.utxos or ():
                    key = (utxo.txid, utxo.vout)
                    if (utxo.height <= chain.height and key not in wanted
                            and not reader.is_unspent(utxo.txid, utxo.vout)):
                        wanted.add(key)
        if not wanted:
            return
        tip = reader.tip()[0]
        first, last = chain.height + 1, tip
        if last - first + 1 > self.max_scan_blocks:
            reason = (f"the node is {last - chain.height} blocks past the snapshot, more than "
                      f"the {self.max_scan_blocks} this verifier reads (--max-scan-blocks)")
            for txid, vout in wanted:
                self.spent[chain.name, txid, vout] = ("unscanned", 0, reason)
            self.report.scans.append(BlockScan(chain.name, first, last, len(wanted), 0, reason))
            return
        for txid, vout in wanted:
            self.spent[chain.name, txid, vout] = ("before", 0, "")
        found = 0
        for height in range(first, last + 1):
            for txid, vout, spender in reader.block_spends(height).spends:
                if (txid, vout) in wanted:
                    self.spent[chain.name, txid, vout] = ("after", height, spender)
                    found += 1
        self.report.scans.append(BlockScan(chain.name, first, last, len(wanted), found))

    def check_wallet(self, index: int, wallet: Wallet, seen: dict[tuple[str, str, str], int],
                     seen_utxos: dict[tuple[str, str, int], int]) -> None:
        for balance in wallet.balances:
            line = self.lines.get(balance.asset)
            if line is None:
                self.fail("unknown-asset", f"balance of {balance.asset}, which is not in the "
                          "file's asset list", index, wallet)
            else:
                line.listed += balance.amount
        chain = self.file.chain(wallet.chain)
        if chain is None:
            self.fail("unknown-chain", f"chain {wallet.chain!r} is not in the file's chains",
                      index, wallet)
            return
        try:
            address = normalize_address(chain, wallet.address)
            key = wallet_identity(chain, wallet.address)
        except FormatError as e:
            self.fail("undecodable-address", str(e), index, wallet)
            return
        if key in seen:
            # A wallet is (kind, network, canonical address): a repeat is never counted.
            self.fail("duplicate-address", f"the same wallet ({chain.kind} network "
                      f"{chain.network}) is listed as wallet {seen[key]} too; it is counted "
                      "once", index, wallet)
            return
        seen[key] = index
        signed, past_only = self.check_signature(index, wallet, chain, address)
        self.check_balances(index, wallet, chain, address, signed, past_only, seen_utxos)

    def expected_message(self, index: int, wallet: Wallet, chain: Chain,
                         address: str) -> tuple[bytes, bool] | None:
        if wallet.message == "static":
            if self.file.static_message is None:
                self.fail("static-not-allowed", "the wallet signed a static message, but the "
                          "operator did not opt in to static messages", index, wallet)
                return None
            self.report.caveats.append(Finding(
                "static-message", f"signed the static message {self.file.static_message!r}: "
                f"{STATIC_CAVEAT}", index, wallet.chain, wallet.address))
            return self.file.static_message.encode("ascii"), True
        message = challenge_message(self.file.exchange, self.file.round_id,
                                    self.file.liabilities_root, self.file.snapshots(),
                                    chain.name, address)
        return message, False

    def check_signature(self, index: int, wallet: Wallet, chain: Chain,
                        address: str) -> tuple[bool, bool]:
        expected = self.expected_message(index, wallet, chain, address)
        if expected is None:
            return False, False
        message, past_only = expected
        assert wallet.signed_message is not None and wallet.signature is not None
        if wallet.signed_message.encode("utf-8") != message:
            self.fail("stale-message",
                      _stale_reason(wallet.signed_message, message.decode("ascii")),
                      index, wallet)
            return False, past_only
        schemes = SCHEMES.get((chain.kind, wallet.custody.kind))
        scheme = wallet.signature.scheme
        if schemes is None or scheme not in schemes:
            allowed = f"one of {list(schemes)}" if schemes else "none: unsupported custody"
            self.fail("unknown-scheme", f"signature scheme {scheme!r} for {wallet.custody.kind} "
                      f"custody on a {chain.kind} chain; expected {allowed}", index, wallet)
            return False, past_only
        try:
            proof = self.verify_signature(wallet, chain, address, message, scheme)
        except FormatError as e:
            self.fail("malformed-signature", str(e), index, wallet)
            return False, past_only
        except VerificationError as e:
            self.fail("bad-signature", str(e), index, wallet)
            return False, past_only
        self.report.signatures.append(SignatureLine(
            index, wallet.chain, wallet.address, scheme, proof.scheme, proof.variant,
            proof.detail))
        return True, past_only

    def verify_signature(self, wallet: Wallet, chain: Chain, address: str, message: bytes,
                         scheme: str) -> SignatureProof:
        # One dispatch for `por reserves import-signatures`, `write` and this verifier
        # (verifier.signatures.wallet); only EIP-1271 needs the node, so it stays here.
        # Imported here, not at the top: the signature libraries are the [reserves] extra,
        # and a bundle checked with --skip-chain never gets here (issue 12).
        from verifier.signatures.wallet import verify_wallet_signature

        value = wallet.signature.value if wallet.signature else ""
        if scheme == "eip1271":
            if not isinstance(value, str):
                raise FormatError("eip1271: expected one signature string, found a list")
            return self.verify_eip1271(chain, address, message, value)
        return verify_wallet_signature(
            scheme, address, message, value,
            bitcoin_network=chain.bitcoin_network if chain.kind == "bitcoin" else None,
            typed_data=(eip712_challenge(message, chain.chain_id) if scheme == "eip712"
                        else None),
            redeem_script=wallet.custody.script)

    def verify_eip1271(self, chain: Chain, address: str, message: bytes,
                       value: str) -> SignatureProof:
        from verifier.signatures.evm import personal_sign_digest, verify_eip1271_result

        # EIP-1271 signatures are opaque bytes the contract judges: one owner's 65 bytes, or
        # m of them for a Safe (each over Safe's SafeMessage hash, spec §11.1).
        if not _EIP1271_SIGNATURE_RE.fullmatch(value):
            raise FormatError(f"EIP-1271 signature {value[:20]!r}...: expected 0x and 1 to "
                              f"{EIP1271_MAX_SIGNATURE_BYTES} bytes of hex")
        signature = bytes.fromhex(value[2:])
        reader = self.readers.get(chain.name)
        if reader is None or chain.name in self.bad_chains or not hasattr(reader, "call"):
            raise VerificationError(
                f"EIP-1271: a contract wallet's signature is judged by the contract at block "
                f"{chain.height}, and no usable node was given for chain {chain.name}")
        digest = personal_sign_digest(message)
        assert chain.height is not None
        try:
            answer = reader.call(address, eip1271_calldata(digest, signature), chain.height)
        except NodeAnswerError as e:
            raise VerificationError(f"EIP-1271 isValidSignature at block {chain.height} "
                                    f"failed: {e}") from e
        return verify_eip1271_result(address, digest, answer)

    def check_balances(self, index: int, wallet: Wallet, chain: Chain, address: str,
                       signed: bool, past_only: bool,
                       seen_utxos: dict[tuple[str, str, int], int]) -> None:
        by_asset = {b.asset: b for b in wallet.balances}
        if len(by_asset) != len(wallet.balances) or set(by_asset) != set(wallet.assets):
            self.fail("missing-balance", f"expected one balance for each of "
                      f"{list(wallet.assets)}, found {[b.asset for b in wallet.balances]}",
                      index, wallet)
        for balance in wallet.balances:
            line = self.lines.get(balance.asset)
            if line is None:
                continue
            try:
                chain_asset = chain.asset(balance.asset)
            except FormatError as e:
                self.fail("unknown-asset", str(e), index, wallet)
                continue
            if balance.source == SOURCE_REPORTED:
                line.reported += balance.amount
                self.report.caveats.append(Finding(
                    "reported-balance", f"{balance.asset} {balance.amount}: {REPORTED_CAVEAT}",
                    index, wallet.chain, wallet.address))
                continue
            if (not signed or chain.name in self.bad_chains
                    or (chain.name, balance.asset) in self.bad_assets):
                continue
            if self.confirm(index, wallet, chain, address, balance, chain_asset.token,
                            seen_utxos):
                # A static signature proves control at some past time only: never confirmed,
                # counted apart (spec §11.4).
                if past_only:
                    line.past_control_only += balance.amount
                else:
                    line.confirmed += balance.amount

    def confirm(self, index: int, wallet: Wallet, chain: Chain, address: str,
                balance: Balance, token: str | None,
                seen_utxos: dict[tuple[str, str, int], int]) -> bool:
        reader = self.readers[chain.name]
        assert chain.height is not None
        if chain.kind == "evm":
            evm: EvmReader = reader  # type: ignore[assignment]
            if token is None:
                found = evm.balance(address, chain.height)
            else:
                found = token_balance(evm, token, address, chain.height)
        elif chain.kind == "bitcoin":
            btc: BitcoinReader = reader  # type: ignore[assignment]
            return self.confirm_utxos(index, wallet, chain, address, balance, btc, seen_utxos)
        else:
            sol: SolanaReader = reader  # type: ignore[assignment]
            if token is None:
                slot, found = sol.balance(address)
                what = "getBalance"
            else:
                slot, found, decimals = sol.token_balance(address, token)
                what = f"the token accounts of mint {token}"
                expected = self.lines[balance.asset].decimals
                if decimals is not None and decimals != expected:
                    self.fail("token-decimals-mismatch", f"{balance.asset}: mint {token} has "
                              f"{decimals} decimals, the file's asset {expected}", index, wallet)
                    return False
            # Solana's JSON-RPC serves current state only: say so, in every report.
            self.report.caveats.append(Finding(
                "current-state", f"{balance.asset} ({what}) is the CURRENT balance at slot "
                f"{slot}, not the balance at the snapshot slot {chain.height}: Solana nodes "
                "serve no past account state, so this shows the funds are held now",
                index, wallet.chain, wallet.address))
        if found != balance.amount:
            self.fail("balance-mismatch", f"{balance.asset}: the file says {balance.amount}, "
                      f"the node says {found} at block {chain.height}", index, wallet)
            return False
        return True

    def confirm_utxos(self, index: int, wallet: Wallet, chain: Chain, address: str,
                      balance: Balance, reader: BitcoinReader,
                      seen_utxos: dict[tuple[str, str, int], int]) -> bool:
        assert chain.height is not None
        if balance.utxos is None:
            self.fail("not-confirmed", f"{balance.asset}: no UTXOs listed as evidence",
                      index, wallet)
            return False
        listed = sum(u.amount for u in balance.utxos)
        if listed != balance.amount:
            self.fail("balance-mismatch", f"{balance.asset}: the file says {balance.amount}, "
                      f"its UTXOs add up to {listed}", index, wallet)
            return False
        ok = True
        for utxo in balance.utxos:
            outpoint = f"{utxo.txid}:{utxo.vout}"
            key = (chain.name, utxo.txid, utxo.vout)
            if key in seen_utxos:
                self.fail("utxo-mismatch", f"{outpoint} is also counted by wallet "
                          f"{seen_utxos[key]}", index, wallet)
                ok = False
                continue
            seen_utxos[key] = index
            if utxo.height > chain.height:
                self.fail("utxo-mismatch", f"{outpoint} was mined at height {utxo.height}, "
                          f"after the snapshot height {chain.height}", index, wallet)
                ok = False
                continue
            block = reader.block_hash(utxo.height)
            try:
                amount, owner = reader.output(utxo.txid, utxo.vout, block)
            except NodeAnswerError as e:
                self.fail("utxo-mismatch", f"{outpoint} is not in block {utxo.height}: {e}",
                          index, wallet)
                ok = False
                continue
            try:
                owner_key = normalize_address(chain, owner) if owner else None
            except FormatError:
                owner_key = None
            if amount != utxo.amount or owner_key != address:
                self.fail("utxo-mismatch", f"{outpoint}: the file says {utxo.amount} to "
                          f"{address}, the node says {amount} to {owner}", index, wallet)
                ok = False
                continue
            state, height, detail = self.spent.get(
                (chain.name, utxo.txid, utxo.vout), ("unspent", 0, ""))
            if state == "after":
                self.report.caveats.append(Finding(
                    "spent-after-snapshot", f"{outpoint} was spent at height {height} by "
                    f"{detail}, after the snapshot height {chain.height}: it was unspent at "
                    "the snapshot and counts", index, wallet.chain, wallet.address))
            elif state == "before":
                self.fail("utxo-spent", f"{outpoint} is spent, and no block after the snapshot "
                          f"(heights {chain.height + 1} and up) spends it: it was spent at or "
                          f"before the snapshot height {chain.height}", index, wallet)
                ok = False
            elif state == "unscanned":
                self.fail("not-confirmed", f"{outpoint} is spent now and when is unknown: "
                          f"{detail}", index, wallet)
                ok = False
        return ok


def parse_accepted_tokens(values: tuple[str, ...], reserves: ReservesFile) -> frozenset[str]:
    """Check ``--accept-noncanonical-token SYMBOL@NETWORK`` values against the file.

    Shared by ``por-verify reserves``, ``por-verify bundle`` and ``por attest sign``.

    Raises:
        FormatError: not ``SYMBOL@NETWORK``, or no chain of the file lists that symbol on
            that network (a typo must not pass silently).
    """
    listed = {f"{a.symbol}@{c.network}" for c in reserves.chains for a in c.assets}
    for value in values:
        if value not in listed:
            raise FormatError(f"--accept-noncanonical-token {value!r}: expected SYMBOL@NETWORK "
                              f"of an asset of the file, one of {sorted(listed)}")
    return frozenset(values)


DEFAULT_MAX_SCAN_BLOCKS = 2016  # two weeks of Bitcoin blocks (3.5 days of Litecoin's)


def verify_reserves(reserves: ReservesFile, readers: Mapping[str, Reader],
                    max_scan_blocks: int = DEFAULT_MAX_SCAN_BLOCKS, *,
                    accept_past_control: bool = False,
                    accept_noncanonical: frozenset[str] = frozenset()) -> ReservesReport:
    """Check every wallet of ``reserves`` against the nodes in ``readers`` (by chain name).

    ``max_scan_blocks`` bounds the Bitcoin-family blocks read after a snapshot to see when
    recorded outputs that are spent now were spent. ``accept_past_control``: balances of
    wallets that signed a static message stand behind the claim (they are still never
    *confirmed*, and the report counts them apart). ``accept_noncanonical``: ``SYMBOL@NETWORK``
    pairs whose non-canonical token the auditor accepts (reported as accepted).

    Returns:
        The report; call :meth:`ReservesReport.raise_for_failures` for the verdict.

    Raises:
        NodeError: a node could not be reached or answered garbage (naming node and call).
        FormatError: the file cannot be checked at all (a chain without a snapshot).
    """
    return _Verifier(reserves, readers, max_scan_blocks, accept_past_control,
                     accept_noncanonical).run()
