"""No coin claimed twice: the same wallet or UTXO in several exchanges' reserves claims.

Owns reading the claims (our reserves files, spec §11.1; OKX address files; BitMEX-style
address lists), reducing every address to the coin it designates on its chain, and finding
the wallets and outputs that two claimants list for overlapping snapshots. No I/O: bytes in,
a report out; the CLI (:mod:`verifier.cli.crosscheck`) reads the files.

Identity, not spelling (STYLE "Identities, not names"): a chain is (kind, network); an EVM
address is its 20 bytes (EIP-55 case is spelling); a Bitcoin-family address is the
scriptPubKey it pays (bech32 case, and Litecoin's ``3…``/``M…`` P2SH forms, are spellings of
one script; a P2PKH and a P2WPKH of one key are two scripts, so two different coins); a
Solana address is its 32 bytes; a UTXO is (chain, txid, vout). A claimant is one input file.
Claimants are compared exchange against exchange: each file is its own exchange unless the
verifier groups files (``--exchange NAME=FILE,FILE``), or says to trust the exchange names
inside our reserves files (``--trust-exchange-names``: the name is the file's own claim, so
this is the user's choice, never the default).

Snapshots: a claim carries its chain's height where the file states one, and a snapshot
time where the file states one (OKX's ``snapshot time``/``snapshot date`` column; a
BitMEX-style list's ``snapshot_time``, ``time`` or ``date``). A time is an interval: an
ISO 8601 time with a zone is an instant; without a zone it is any instant from 14 hours
before to 12 hours after (every UTC offset in use); a date is the whole of that day in any
zone. Two claims of one wallet are apart only when a window is given for at least one
measure both claims state, and every such measure puts them further apart than its window.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import base58
import yaml

from verifier.errors import CheckFailedError, FormatError, PorError
from verifier.foreign.okx_addresses import parse_okx_address_csv
from verifier.reserves.model import (
    BITCOIN_NETWORKS,
    RESERVES_SCHEME,
    ReservesFile,
    normalize_address,
)
from verifier.signatures import checksum_address, decode_address

ChainId = tuple[str, str]  # (kind, network), spec §11.1

# OKX's chain names (okx_addresses.py) -> chain identity. Others are compared as published.
OKX_CHAINS: dict[str, ChainId] = {
    "BTC": ("bitcoin", "bitcoin"),
    "LTC": ("bitcoin", "litecoin"),
    "DOGE": ("bitcoin", "dogecoin"),
    "ETH": ("evm", "1"),
    "ERC20": ("evm", "1"),
    "ARBITRUM": ("evm", "42161"),
    "OPTIMISM": ("evm", "10"),
    "POLY": ("evm", "137"),
    "POLYGON": ("evm", "137"),
    "AVAXC": ("evm", "43114"),
    "BSC": ("evm", "56"),
    "BEP20": ("evm", "56"),
    "TRON": ("tron", "mainnet"),
    "TRX": ("tron", "mainnet"),
    "TRC20": ("tron", "mainnet"),
}
# BitMEX's reserves files name Bitcoin Core's chain (getblockchaininfo "chain").
BITMEX_CHAINS: dict[str, ChainId] = {
    "main": ("bitcoin", "bitcoin"),
    "test": ("bitcoin", "bitcoin-testnet"),
    "regtest": ("bitcoin", "bitcoin-regtest"),
}
_SCRIPT_TEMPLATES = {
    "p2pkh": ("76a914", "88ac"),
    "p2sh": ("a914", "87"),
    "p2wpkh": ("0014", ""),
    "p2wsh": ("0020", ""),
    "p2tr": ("5120", ""),
}
_TXID = re.compile(r"[0-9a-f]{64}")
# A local time without a zone may be any of UTC-12..UTC+14: its instant lies in this span.
_BEFORE_UTC = 14 * 3600
_AFTER_UTC = 12 * 3600
_DAY = 86400
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

TimeSpan = tuple[int, int]  # Unix seconds, first and last instant the snapshot may be at


def snapshot_span(value: object, where: str) -> TimeSpan:
    """The instants a stated snapshot time may denote (see the module docstring).

    Accepts an ISO 8601 string (``2026-11-25T00:00:00Z``, ``...+02:00``, a time without a
    zone, or a date ``2026-11-25``) or the date/datetime YAML reads from one.

    Raises:
        FormatError: anything else (a number is refused: seconds or milliseconds?).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                dt.date.fromisoformat(text)
                if _DATE.fullmatch(text)
                else dt.datetime.fromisoformat(text)
            )
        except ValueError as e:
            raise FormatError(f"{where}: snapshot time {text!r} is not ISO 8601") from e
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            t = int(value.replace(tzinfo=dt.UTC).timestamp())
            return t - _BEFORE_UTC, t + _AFTER_UTC
        t = int(value.timestamp())
        return t, t
    if isinstance(value, dt.date):
        start = int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
        return start - _BEFORE_UTC, start + _DAY - 1 + _AFTER_UTC
    raise FormatError(f"{where}: a snapshot time is an ISO 8601 time or date, not {value!r}")


def span_distance(a: TimeSpan, b: TimeSpan) -> int:
    """Seconds between the nearest instants of two spans (0 when they meet)."""
    return max(0, b[0] - a[1], a[0] - b[1])


@dataclass(frozen=True)
class Claim:
    """One claimant's claim to one wallet (or one output) on one chain.

    Attributes:
        claimant: the input file, with the exchange it names.
        chain: (kind, network).
        coin: the canonical identity of the wallet (``script:…``, ``evm:…``) or output
            (``utxo:txid:vout``).
        address: the address as the claimant published it.
        height: the snapshot height of that chain in the claim, ``None`` when not given.
        amounts: what the claimant counts there, {asset: amount as published}.
        time: the snapshot time as published, ``None`` when not given.
        span: the instants ``time`` may denote (:func:`snapshot_span`).
        exchange: the exchange the claim counts for (the claimant itself, unless grouped).
    """

    claimant: str
    chain: ChainId
    coin: str
    address: str
    height: int | None
    amounts: dict[str, str] = field(default_factory=dict)
    time: str | None = None
    span: TimeSpan | None = None
    exchange: str = ""

    @property
    def owner(self) -> str:
        """The exchange this claim is compared as."""
        return self.exchange or self.claimant

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form."""
        return {
            "claimant": self.claimant,
            "exchange": self.owner,
            "address": self.address,
            "height": self.height,
            "time": self.time,
            "amounts": self.amounts,
        }


@dataclass(frozen=True)
class Overlap:
    """One wallet or output that two or more claimants list for overlapping snapshots."""

    chain: ChainId
    coin: str
    claims: tuple[Claim, ...]
    why: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form."""
        return {
            "chain": {"kind": self.chain[0], "network": self.chain[1]},
            "coin": self.coin,
            "why": self.why,
            "claims": [c.to_dict() for c in self.claims],
        }


@dataclass
class CrossCheckReport:
    """Every overlap found among the claimants, and what the comparison covers."""

    claimants: list[str]
    claims: int
    window_blocks: int | None
    overlaps: list[Overlap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    window_seconds: int | None = None
    exchanges: dict[str, list[str]] = field(default_factory=dict)  # exchange -> claimants

    @property
    def ok(self) -> bool:
        """True when at least two exchanges were compared and no coin is claimed twice."""
        return len(self.exchanges) >= 2 and not self.overlaps

    def raise_for_failures(self) -> None:
        """Raise if any coin is claimed by two claimants (or fewer than two were given).

        Raises:
            CheckFailedError: naming every overlap.
        """
        if len(self.exchanges) < 2:
            raise CheckFailedError("cross-check needs the claims of at least two exchanges")
        if self.overlaps:
            raise CheckFailedError(
                f"{len(self.overlaps)} wallet(s)/output(s) claimed by more than one "
                "exchange: " + "; ".join(f"{o.coin} ({o.why})" for o in self.overlaps[:5])
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the machine-readable report."""
        return {
            "verdict": "VERIFIED" if self.ok else "FAILED",
            "ok": self.ok,
            "claimants": self.claimants,
            "claims": self.claims,
            "window_blocks": self.window_blocks,
            "window_seconds": self.window_seconds,
            "exchanges": self.exchanges,
            "overlaps": [o.to_dict() for o in self.overlaps],
            "notes": self.notes,
        }

    def render_text(self) -> str:
        """Return the human-readable report."""
        verdict = "VERIFIED" if self.ok else "FAILED"
        lines = [
            f"{verdict}: cross-check of {len(self.exchanges)} exchange(s) in "
            f"{len(self.claimants)} file(s), {self.claims} claims",
        ]
        for exchange, members in self.exchanges.items():
            if members == [exchange]:
                lines.append(f"  claimant: {exchange}")
            else:
                lines.append(f"  exchange {exchange!r}: " + "; ".join(members))
        windows = []
        if self.window_blocks is not None:
            windows.append(f"snapshot heights more than {self.window_blocks} block(s) apart")
        if self.window_seconds is not None:
            windows.append(f"snapshot times more than {self.window_seconds} s apart")
        lines.append(
            "overlap: the same coin claimed by two exchanges, unless "
            + (" / ".join(windows) + " (every stated measure)" if windows else "never")
        )
        for o in self.overlaps:
            lines.append(f"  CLAIMED TWICE {o.chain[0]}:{o.chain[1]} {o.coin} ({o.why})")
            for c in o.claims:
                amounts = ", ".join(f"{a} {v}" for a, v in c.amounts.items()) or "amount not given"
                height = "height not given" if c.height is None else f"height {c.height}"
                if c.time is not None:
                    height += f", time {c.time}"
                who = c.claimant if c.owner == c.claimant else f"{c.owner}: {c.claimant}"
                lines.append(f"      {who}: {c.address} at {height}: {amounts}")
        if not self.overlaps:
            lines.append("  no wallet or output is claimed by two exchanges")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


# ----------------------------------------------------------------------------- identities


def coin_identity(chain: ChainId, address: str) -> str:
    """The canonical identity of ``address`` on ``chain`` (see the module docstring).

    Raises:
        FormatError: the address does not decode for this chain.
    """
    kind, network = chain
    if kind == "evm":
        return "evm:" + checksum_address(address).lower()
    if kind == "bitcoin":
        decoded = decode_address(address, BITCOIN_NETWORKS[network])
        if decoded.kind not in _SCRIPT_TEMPLATES:
            raise FormatError(f"address {address!r}: unknown witness version, not a known coin")
        head, tail = _SCRIPT_TEMPLATES[decoded.kind]
        return f"script:{head}{decoded.program.hex()}{tail}"
    if kind == "solana":
        try:
            raw = base58.b58decode(address)
        except ValueError as e:
            raise FormatError(f"address {address!r}: not base58") from e
        if len(raw) != 32:
            raise FormatError(f"address {address!r}: a Solana address is 32 bytes")
        return "solana:" + raw.hex()
    return f"{kind}:{address}"  # a chain we cannot decode: compared exactly as published


# ----------------------------------------------------------------------------- readers


def claims_from_reserves(data: bytes, label: str) -> tuple[str, list[Claim]]:
    """Claims of one of our reserves files (spec §11.1): every wallet, and every UTXO.

    Raises:
        FormatError: the file is malformed (its own parser), or an address does not decode.
    """
    reserves = ReservesFile.from_json(data, label)
    claimant = f"{label} (exchange {reserves.exchange!r}, round {reserves.round_id})"
    out: list[Claim] = []
    for i, wallet in enumerate(reserves.wallets):
        chain = reserves.chain(wallet.chain)
        if chain is None:
            raise FormatError(f"{label}.wallets[{i}]: chain {wallet.chain!r} is not in the file")
        ident: ChainId = (chain.kind, chain.network)
        normalize_address(chain, wallet.address)  # the reserves model's own check of form
        amounts = {b.asset: str(b.amount) for b in wallet.balances}
        out.append(
            Claim(claimant, ident, coin_identity(ident, wallet.address), wallet.address,
                  chain.height, amounts)
        )
        for balance in wallet.balances:
            for utxo in balance.utxos or ():
                out.append(
                    Claim(claimant, ident, f"utxo:{utxo.txid}:{utxo.vout}", wallet.address,
                          chain.height, {balance.asset: str(utxo.amount)})
                )
    return claimant, out


def claims_from_okx(data: bytes, label: str) -> tuple[str, list[Claim]]:
    """Claims of an OKX address file: one per row, with its snapshot height when given.

    Raises:
        FormatError: the file is not an OKX address file, or a row's address does not
            decode for its chain.
    """
    _, rows = parse_okx_address_csv(data)
    claimant = f"{label} (OKX address file)"
    out = []
    for row in rows:
        chain = OKX_CHAINS.get(row.chain, ("okx-" + row.chain.lower(), "as-published"))
        height = _height(row.snapshot_height, f"{label} line {row.line}")
        try:
            coin = coin_identity(chain, row.address)
        except FormatError as e:
            raise FormatError(f"{label} line {row.line}: {e}") from e
        amounts = {row.coin: row.amount} if row.amount else {}
        time = row.snapshot_time.strip() or None
        span = None if time is None else snapshot_span(time, f"{label} line {row.line}")
        out.append(Claim(claimant, chain, coin, row.address, height, amounts, time, span))
    return claimant, out


class _StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML's safe loader, refusing a key given twice (two readers could keep either)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in out:
            raise FormatError(f"duplicate key {key!r}")
        out[key] = loader.construct_object(value_node)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def claims_from_bitmex(data: bytes, label: str) -> tuple[str, list[Claim]]:
    """Claims of a BitMEX-style reserves address list (YAML or JSON).

    The fields read are those of BitMEX's validate_reserves.py: ``chain`` (Bitcoin Core's
    ``main``/``test``/``regtest``), ``height``, and ``address``: a list of ``{addr,
    addr_type, ...}`` (an optional ``balance`` in satoshis is shown when present).

    Raises:
        FormatError: not YAML/JSON of that shape, or an address that does not decode.
    """
    try:
        doc = yaml.load(data.decode("utf-8"), Loader=_StrictLoader)  # noqa: S506 (safe loader)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise FormatError(f"{label}: not YAML or JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("address"), list):
        raise FormatError(f"{label}: expected a mapping with an 'address' list")
    chain = BITMEX_CHAINS.get(str(doc.get("chain")))
    if chain is None:
        raise FormatError(f"{label}.chain: expected one of {sorted(BITMEX_CHAINS)}")
    height = doc.get("height")
    if not isinstance(height, int) or isinstance(height, bool) or height < 0:
        raise FormatError(f"{label}.height: expected a block height")
    time_keys = [k for k in ("snapshot_time", "time", "date") if k in doc]
    if len(time_keys) > 1:
        raise FormatError(f"{label}: snapshot time given twice ({', '.join(time_keys)})")
    time = span = None
    if time_keys:
        raw_time = doc[time_keys[0]]
        span = snapshot_span(raw_time, f"{label}.{time_keys[0]}")
        time = raw_time.isoformat() if isinstance(raw_time, dt.date) else str(raw_time)
    claimant = f"{label} (BitMEX-style address list)"
    out = []
    for i, entry in enumerate(doc["address"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("addr"), str):
            raise FormatError(f"{label}.address[{i}]: expected a mapping with 'addr'")
        address = entry["addr"]
        try:
            coin = coin_identity(chain, address)
        except FormatError as e:
            raise FormatError(f"{label}.address[{i}]: {e}") from e
        balance = entry.get("balance")
        amounts = {"BTC": str(balance)} if isinstance(balance, int | str) and balance != "" else {}
        out.append(Claim(claimant, chain, coin, address, height, amounts, time, span))
    return claimant, out


def _height(text: str, where: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise FormatError(f"{where}: snapshot height {text!r} is not a block height")
    return int(text)


def read_claims(data: bytes, label: str) -> tuple[str, list[Claim], str]:
    """Recognise ``data`` as one of the accepted kinds and read its claims.

    Returns:
        the claimant's name, its claims, and the kind recognised.

    Raises:
        FormatError: the file is none of the accepted kinds, or is malformed.
    """
    name, claims, kind, _ = _read(data, label)
    return name, claims, kind


def _read(data: bytes, label: str) -> tuple[str, list[Claim], str, str | None]:
    """:func:`read_claims`, and the exchange name a reserves file states (else ``None``)."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("scheme") == RESERVES_SCHEME:
            name, claims = claims_from_reserves(data, label)
            return name, claims, "reserves file", ReservesFile.from_json(data, label).exchange
        if isinstance(doc, dict) and "address" in doc:
            name, claims = claims_from_bitmex(data, label)
            return name, claims, "BitMEX-style address list", None
        raise FormatError(f"{label}: JSON, but neither a por-reserves file nor an address list")
    head = stripped[:4096].decode("utf-8", "replace").lower()
    first = head.splitlines()[0] if head else ""
    if ("address" in first and "," in first) or first.startswith("coin,snapshot"):
        name, claims = claims_from_okx(data, label)
        return name, claims, "OKX address file", None
    if re.search(r"^address\s*:", head, re.MULTILINE):
        name, claims = claims_from_bitmex(data, label)
        return name, claims, "BitMEX-style address list", None
    raise FormatError(
        f"{label}: not a por-reserves file, an OKX address file or a BitMEX-style address list"
    )


# ----------------------------------------------------------------------------- the check


def cross_check(
    inputs: Sequence[tuple[str, list[Claim]]],
    *,
    window_blocks: int | None = None,
    window_seconds: int | None = None,
    exchange_of: Mapping[str, str] | None = None,
) -> CrossCheckReport:
    """Find every wallet or output claimed by two exchanges for overlapping snapshots.

    ``exchange_of`` maps a claimant to the exchange it is compared as (default: itself);
    claims of one exchange are never compared with each other. Two claims of one wallet are
    apart only when at least one measure has a window (``window_blocks`` for heights,
    ``window_seconds`` for snapshot times) and both claims state it, and every such measure
    puts them further apart than its window. Otherwise they overlap: with no window, a
    wallet cannot belong to two exchanges at all; with an unstated height or time, the
    periods cannot be shown apart. A UTXO claimed by two exchanges always overlaps: each
    says it was unspent at its snapshot, so it was unspent, in one place, between the two.

    Raises:
        FormatError: a window is negative.
    """
    if window_blocks is not None and window_blocks < 0:
        raise FormatError("--window-blocks: expected a number of blocks >= 0")
    if window_seconds is not None and window_seconds < 0:
        raise FormatError("--window-seconds: expected a number of seconds >= 0")
    groups = dict(exchange_of or {})
    exchanges: dict[str, list[str]] = {}
    for name, _ in inputs:
        exchanges.setdefault(groups.get(name, name), []).append(name)
    report = CrossCheckReport(
        claimants=[name for name, _ in inputs],
        claims=sum(len(c) for _, c in inputs),
        window_blocks=window_blocks,
        window_seconds=window_seconds,
        exchanges=exchanges,
    )
    by_coin: dict[tuple[ChainId, str], list[Claim]] = {}
    for name, claims in inputs:
        for claim in claims:
            owned = replace(claim, exchange=groups.get(name, name))
            by_coin.setdefault((claim.chain, claim.coin), []).append(owned)
    apart = 0
    within = 0
    for (chain, coin), claims in by_coin.items():
        if len({c.claimant for c in claims}) > len({c.owner for c in claims}):
            within += 1  # two files of one exchange list it
        if len({c.owner for c in claims}) < 2:
            continue
        pairs = [
            (a, b)
            for i, a in enumerate(claims)
            for b in claims[i + 1 :]
            if a.owner != b.owner
        ]
        overlapping = [
            (a, b) for a, b in pairs if not _apart(a, b, coin, window_blocks, window_seconds)
        ]
        if not overlapping:
            apart += 1
            continue
        involved = {id(c) for pair in overlapping for c in pair}
        shown = tuple(c for c in claims if id(c) in involved)
        report.overlaps.append(Overlap(chain, coin, shown, _why(overlapping, coin)))
    if apart:
        report.notes.append(
            f"{apart} wallet(s) listed by two exchanges at snapshots further apart than the "
            "window (--window-blocks / --window-seconds) are not counted as overlaps"
        )
    if within:
        report.notes.append(
            f"{within} wallet(s) or output(s) listed in several files of one exchange are not "
            "overlaps (the files were grouped as one exchange)"
        )
    if len(exchanges) < 2:
        report.notes.append("only one exchange was given: there is nothing to compare")
    report.notes.append(
        "a pass means that no wallet or output appears in the files of two exchanges for "
        "overlapping snapshots; it does not check signatures or balances (por-verify reserves "
        "does), and coins moved between exchanges' different addresses are not visible here"
    )
    return report


def _apart(
    a: Claim, b: Claim, coin: str, window_blocks: int | None, window_seconds: int | None
) -> bool:
    if coin.startswith("utxo:"):
        return False
    verdicts = []
    if window_blocks is not None and a.height is not None and b.height is not None:
        verdicts.append(abs(a.height - b.height) > window_blocks)
    if window_seconds is not None and a.span is not None and b.span is not None:
        verdicts.append(span_distance(a.span, b.span) > window_seconds)
    return bool(verdicts) and all(verdicts)


def _why(pairs: list[tuple[Claim, Claim]], coin: str) -> str:
    if coin.startswith("utxo:"):
        return "the same unspent output, counted by both"
    spellings = {c.address for pair in pairs for c in pair}
    unknown = any(c.height is None and c.span is None for pair in pairs for c in pair)
    why = "the same wallet"
    if len(spellings) > 1:
        why += " under different spellings (" + ", ".join(sorted(spellings)) + ")"
    if unknown:
        why += "; a snapshot height or time is not given, so the periods cannot be shown apart"
    return why


def run(
    files: Sequence[tuple[str, bytes]],
    *,
    window_blocks: int | None,
    window_seconds: int | None = None,
    exchanges: Mapping[str, str] | None = None,
    trust_exchange_names: bool = False,
) -> CrossCheckReport:
    """Read every file's claims and cross-check them.

    ``exchanges`` maps a file's label to the exchange the verifier groups it under.
    ``trust_exchange_names`` groups our reserves files not in ``exchanges`` by the exchange
    name they state (the file's own claim: a file naming another exchange then hides its
    overlaps with that exchange, so it is the user's choice).

    Raises:
        FormatError: a file is malformed or of no accepted kind, or a grouping names a
            file that is not given.
    """
    given = dict(exchanges or {})
    labels = {label for label, _ in files}
    missing = sorted(set(given) - labels)
    if missing:
        raise FormatError(f"--exchange names file(s) not given: {', '.join(missing)}")
    inputs = []
    kinds = []
    exchange_of: dict[str, str] = {}
    for label, data in files:
        try:
            name, claims, kind, stated = _read(data, label)
        except FormatError:
            raise
        except PorError as e:  # a reader's other error is still about the input
            raise FormatError(f"{label}: {e}") from e
        inputs.append((name, claims))
        kinds.append(f"{label}: read as {kind}, {len(claims)} claim(s)")
        if label in given:
            exchange_of[name] = given[label]
        elif trust_exchange_names and stated is not None:
            exchange_of[name] = stated
    report = cross_check(
        inputs,
        window_blocks=window_blocks,
        window_seconds=window_seconds,
        exchange_of=exchange_of,
    )
    if trust_exchange_names:
        kinds.append(
            "--trust-exchange-names: reserves files are grouped by the exchange name they "
            "state; that name is the file's own claim"
        )
    report.notes[:0] = kinds
    return report
