"""OKX proof-of-reserves address files: per-row ownership signatures, failing closed.

Owns the OKX address-CSV layouts (2022 7-column, 11-column with Network, 12-column with
Type, 2025 AUP ``digitalAsset,network,...``), the per-chain rules OKX signs with, and the
``por-verify foreign okx-addresses`` command. Signatures are checked by
:mod:`verifier.signatures`; this module only frames OKX's bytes. Rules (see OKX
``common/verify.go``):

* EVM: personal_sign over ``keccak256(message)`` (32 bytes), *not* over the message.
* OKC: OKX's "Ecdsa" rule, keccak256(varstr("OKX Signed Message:\\n") || varstr(msg)).
* TRON: ``"\\x19TRON Signed Message:\\n32" || keccak256(message)`` or TronWeb's v2.
* BTC (DOGE, LTC with their own magic): two BIP-137 compact signatures by two distinct
  keys of the 2-of-3 redeem script, and the address must be the script's P2SH/P2WSH hash.

A row of a chain without a rule here is "unchecked", and so is a row whose signatures
verify but whose link to the address needs chain state (contracts, validators): both make
the file fail. Nothing here performs I/O beyond what the command reads.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

from verifier.errors import FormatError, PorError, VerificationError
from verifier.signatures.bitcoin import (
    BITCOIN,
    DOGECOIN,
    LITECOIN,
    BitcoinNetwork,
    verify_bip137,
    verify_multisig_bip137,
)
from verifier.signatures.evm import checksum_address, verify_digest, verify_personal_sign
from verifier.signatures.proof import SignatureProof
from verifier.signatures.tron import verify_tron_message

RowVerdict = Literal["verified", "failed", "malformed", "unchecked"]

# Column names as OKX writes them (lowercased, spaces around "/" removed) -> our field.
_COLUMNS: dict[str, str] = {
    "coin": "coin",
    "digitalasset": "coin",
    "type": "row_type",
    "network": "network",
    "snapshot height": "snapshot_height",
    "snapshot time": "snapshot_time",
    "snapshot date": "snapshot_time",
    "address": "address",
    "amount": "amount",
    "message": "message",
    "signature1": "signature1",
    "signedmessage": "signature1",
    "signature2": "signature2",
    "signedmessage2": "signature2",
    "redeem script/public key": "script_or_key",
    "publickey": "script_or_key",
    "eoa1": "eoa1",
    "owner1": "eoa1",
    "eoa2": "eoa2",
    "owner2": "eoa2",
}
_REQUIRED = ("coin", "address", "message", "signature1")
_SUMMARY_HEADER = ["coin", "snapshot height", "amount"]

# Chains a rule exists for. Only names seen in OKX's files or unambiguous are listed:
# a chain missing here is reported "unchecked", never guessed.
EVM_CHAINS = frozenset(
    {"ETH", "ERC20", "ARBITRUM", "OPTIMISM", "POLY", "POLYGON", "AVAXC", "BSC", "BEP20"}
)
TRON_CHAINS = frozenset({"TRON", "TRX", "TRC20"})
# OKX "Ecdsa" coin type with an EVM-style address (OKX coin.go: OKC is not an EVM coin type).
OKX_ECDSA_EVM_ADDRESS_CHAINS = frozenset({"OKC"})
OKX_MESSAGE_HEADER = b"OKX Signed Message:\n"
# UTXO chains: BIP-137 signatures under the chain's own signed-message magic.
UTXO_CHAINS: dict[str, BitcoinNetwork] = {"BTC": BITCOIN, "DOGE": DOGECOIN, "LTC": LITECOIN}

FIXED_MESSAGE_WEAKNESS = (
    "the signed message {messages} is the same in every round: a signature proves that the "
    "key signed this text at some past time only, not control at the snapshot (an old "
    "signature still verifies for an address the exchange no longer controls)"
)


@dataclass(frozen=True)
class AddressRow:
    """One detail row of an OKX address file, by field (empty string when absent)."""

    line: int
    coin: str
    network: str
    row_type: str
    address: str
    message: str
    signature1: str
    signature2: str
    script_or_key: str
    eoa1: str
    eoa2: str
    snapshot_height: str = ""
    amount: str = ""
    snapshot_time: str = ""  # read by por-verify cross-check only (ISO 8601 time or date)

    @property
    def chain(self) -> str:
        """The chain the row's rule is chosen by: Network, else the coin's suffix."""
        if self.network:
            return self.network.upper()
        return self.coin.upper().rsplit("-", 1)[-1]


@dataclass(frozen=True)
class RowResult:
    """The verdict on one row, with the rule applied and the reason."""

    line: int
    coin: str
    chain: str
    address: str
    verdict: RowVerdict
    rule: str
    reason: str
    signer_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class OkxAddressReport:
    """Every row's verdict (auditors want every finding, not the first)."""

    layout: str
    rows: tuple[RowResult, ...]
    messages: tuple[str, ...]
    weaknesses: tuple[str, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Rows per verdict."""
        counted = Counter(row.verdict for row in self.rows)
        return {v: counted.get(v, 0) for v in ("verified", "failed", "malformed", "unchecked")}

    @property
    def ok(self) -> bool:
        """True only if there is at least one row and every row verified."""
        return bool(self.rows) and all(row.verdict == "verified" for row in self.rows)

    def raise_for_failures(self) -> None:
        """Raise unless every row verified.

        Raises:
            FormatError: Some row could not be decoded (takes precedence).
            VerificationError: Some row failed or could not be checked (fail closed).
        """
        if self.ok:
            return
        counts = self.counts
        summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
        bad = [row for row in self.rows if row.verdict != "verified"]
        first = f"first: line {bad[0].line} {bad[0].verdict}: {bad[0].reason}" if bad else ""
        message = f"OKX address file: {summary or 'no rows'} of {len(self.rows)}; {first}"
        if counts["malformed"]:
            raise FormatError(message)
        raise VerificationError(message)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole report."""
        return {
            "format": "okx-address-csv",
            "layout": self.layout,
            "verdict": "VERIFIED" if self.ok else "FAILED",
            "ok": self.ok,
            "counts": self.counts,
            "messages": list(self.messages),
            "weaknesses": list(self.weaknesses),
            "rows": [asdict(row) for row in self.rows],
        }


def _normalize_header(cell: str) -> str:
    name = " ".join(cell.strip().lower().split())
    return name.replace("/ ", "/").replace(" /", "/")


def parse_okx_address_csv(data: bytes) -> tuple[str, list[AddressRow]]:
    """Parse an OKX address CSV into its layout name and detail rows.

    Raises:
        FormatError: Not UTF-8 CSV, an unknown or missing column, or a row whose column
            count differs from the header's (line numbers are 1-based).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FormatError(f"OKX address file: not UTF-8 ({e})") from e
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise FormatError(f"OKX address file: not CSV ({e})") from e
    index = 0
    if rows and [_normalize_header(c) for c in rows[0]] == _SUMMARY_HEADER:
        # Summary block (coin, snapshot height, amount) up to the first blank line.
        while index < len(rows) and any(cell.strip() for cell in rows[index]):
            index += 1
    while index < len(rows) and not any(cell.strip() for cell in rows[index]):
        index += 1
    if index >= len(rows):
        raise FormatError("OKX address file: no detail header row found")
    header_line = index + 1
    header = [_normalize_header(c) for c in rows[index]]
    unknown = [name for name in header if name not in _COLUMNS]
    if unknown:
        raise FormatError(
            f"OKX address file line {header_line}: unknown column(s) {unknown}; "
            f"expected names among {sorted(_COLUMNS)}"
        )
    fields = [_COLUMNS[name] for name in header]
    missing = [name for name in _REQUIRED if name not in fields]
    if missing or len(set(fields)) != len(fields):
        raise FormatError(
            f"OKX address file line {header_line}: header {header} lacks {missing} "
            "or repeats a column"
        )
    layout = f"{len(header)}-column ({','.join(rows[index]).strip()})"
    parsed: list[AddressRow] = []
    for offset, cells in enumerate(rows[index + 1 :], start=index + 2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header) or len(cells) < fields.index("signature1") + 1:
            raise FormatError(
                f"OKX address file line {offset}: expected {len(header)} columns, "
                f"found {len(cells)}"
            )
        # OKX's files omit trailing empty columns (its Go reader allows ragged rows).
        cells = cells + [""] * (len(header) - len(cells))
        values = {
            field: ("" if value.strip().lower() == "null" else value)
            for field, value in zip(fields, cells, strict=True)
        }
        parsed.append(
            AddressRow(
                line=offset,
                **{
                    name: values.get(name, "")
                    for name in ("coin", "network", "row_type", "address", "message",
                                 "signature1", "signature2", "script_or_key", "eoa1", "eoa2",
                                 "snapshot_height", "amount", "snapshot_time")
                },
            )
        )
    return layout, parsed


def okx_evm_message(message: str) -> bytes:
    """What OKX's EVM signatures cover: personal_sign of keccak256(message), 32 bytes."""
    from eth_utils.crypto import keccak  # the [reserves] extra, only when a row is checked

    return bytes(keccak(message.encode("utf-8")))


def _keys(proof: SignatureProof) -> tuple[str, ...]:
    return tuple(key.hex() for key in proof.signer_keys)


def _check_evm(row: AddressRow) -> RowResult:
    rule = "okx-evm: personal_sign(keccak256(message))"
    signed = okx_evm_message(row.message)
    pairs = []
    if row.eoa1 or row.eoa2:
        if row.eoa1:
            pairs.append((row.eoa1, row.signature1, "signature1/eoa1"))
        if row.eoa2 and row.signature2:
            pairs.append((row.eoa2, row.signature2, "signature2/eoa2"))
    else:
        pairs.append((row.address, row.signature1, "signature1"))
        if row.signature2:
            pairs.append((row.address, row.signature2, "signature2"))
    signers = []
    for address, signature, label in pairs:
        if not signature:
            return _result(row, "failed", rule, f"{label}: no signature")
        try:
            proof = verify_personal_sign(address, signed, signature)
        except PorError as e:
            return _error_result(row, rule, f"{label}: {e}", e)
        signers.append(proof.address)
    if row.eoa1 or row.eoa2:
        return _result(
            row, "unchecked", rule,
            f"signatures by {', '.join(signers)} verify, but that they control {row.address} "
            f"({row.row_type or 'contract or validator'}) needs chain state: not checked "
            "offline",
        )
    try:
        checksum_address(row.address)
    except FormatError as e:  # pragma: no cover - verify_personal_sign checked it
        return _error_result(row, rule, str(e), e)
    return _result(row, "verified", rule, f"signed by {signers[0]}")


def okx_ecdsa_digest(message: str) -> bytes:
    """OKX's "Ecdsa" rule: keccak256(varstr("OKX Signed Message:\\n") || varstr(message))."""
    from btclib.var_bytes import serialize as varstr  # the [reserves] extra
    from eth_utils.crypto import keccak

    return bytes(keccak(varstr(OKX_MESSAGE_HEADER) + varstr(message.encode("utf-8"))))


def _check_okx_ecdsa(row: AddressRow) -> RowResult:
    rule = "okx-ecdsa: keccak256(varstr(header) || varstr(message)), EVM-style address"
    try:
        proof = verify_digest(row.address, okx_ecdsa_digest(row.message), row.signature1, rule)
    except PorError as e:
        return _error_result(row, rule, str(e), e)
    return _result(row, "verified", rule, f"signed by {proof.address}", _keys(proof))


def _check_tron(row: AddressRow) -> RowResult:
    rule = "tron: v1-hash32 or v2 signed message"
    failures = []
    for variant in ("v1-hash32", "v2"):
        try:
            proof = verify_tron_message(
                row.address, row.message.encode("utf-8"), row.signature1, variant
            )
        except FormatError as e:
            return _error_result(row, rule, str(e), e)
        except VerificationError as e:
            failures.append(str(e))
            continue
        return _result(row, "verified", f"tron-{variant}", "signed by the address's key",
                       _keys(proof))
    return _result(row, "failed", rule, "; ".join(failures))


def _check_utxo(row: AddressRow, network: BitcoinNetwork) -> RowResult:
    message = row.message.encode("utf-8")
    try:
        if row.script_or_key:
            rule = "btc-multisig: m distinct script keys, address = script hash"
            script = bytes.fromhex(row.script_or_key.removeprefix("0x"))
            signatures = [s for s in (row.signature1, row.signature2) if s]
            proof = verify_multisig_bip137(row.address, message, signatures, script, network)
        else:
            rule = "bip137"
            proof = verify_bip137(row.address, message, row.signature1, network)
    except ValueError as e:
        return _result(row, "malformed", "btc-multisig", f"redeem script is not hex: {e}")
    except PorError as e:
        return _error_result(row, rule, str(e), e)
    return _result(row, "verified", rule, proof.detail, _keys(proof))


def _result(
    row: AddressRow, verdict: RowVerdict, rule: str, reason: str, keys: tuple[str, ...] = ()
) -> RowResult:
    return RowResult(row.line, row.coin, row.chain, row.address, verdict, rule, reason, keys)


def _error_result(row: AddressRow, rule: str, reason: str, error: PorError) -> RowResult:
    verdict: RowVerdict = "malformed" if isinstance(error, FormatError) else "failed"
    return _result(row, verdict, rule, reason)


def check_row(row: AddressRow) -> RowResult:
    """Check one row under its chain's OKX rule; a chain without a rule is "unchecked"."""
    if not row.signature1:
        return _result(row, "failed", "-", "no signature1")
    if row.chain in EVM_CHAINS:
        return _check_evm(row)
    if row.chain in TRON_CHAINS:
        return _check_tron(row)
    if row.chain in OKX_ECDSA_EVM_ADDRESS_CHAINS:
        return _check_okx_ecdsa(row)
    if row.chain in UTXO_CHAINS:
        return _check_utxo(row, UTXO_CHAINS[row.chain])
    return _result(
        row, "unchecked", "-",
        f"no signature rule for chain {row.chain} in this verifier (fails closed)",
    )


def check_okx_address_file(data: bytes) -> OkxAddressReport:
    """Check every row of an OKX address CSV and report all verdicts.

    Raises:
        FormatError: The file itself cannot be parsed (rows that cannot be decoded are
            reported as "malformed" instead).
    """
    layout, rows = parse_okx_address_csv(data)
    results = tuple(check_row(row) for row in rows)
    messages = tuple(sorted({row.message for row in rows}))
    weaknesses = [FIXED_MESSAGE_WEAKNESS.format(messages=", ".join(map(repr, messages)))]
    if any(row.chain in EVM_CHAINS for row in rows):
        weaknesses.append(
            "EVM rows sign keccak256(message) with personal_sign, not the message: a wallet "
            "shows the signer an opaque 32-byte hash"
        )
    return OkxAddressReport(layout, results, messages, tuple(weaknesses))
