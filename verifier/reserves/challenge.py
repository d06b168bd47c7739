"""The reserves challenge message: the exact bytes every wallet signs for a round (spec §11.2).

The message binds the exchange, the round id, the liabilities root hash and every chain's
snapshot (height and block hash), so a signature made for another round, another root or
before the snapshot block existed cannot pass (OKX signs one fixed sentence, which proves
control at some past time only). Pure functions: text in, bytes out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.errors import FormatError

CHALLENGE_HEADER = "POR-TOOLKIT RESERVES CHALLENGE V1"  # spec §11.2, first line
EIP712_DOMAIN_NAME = "por-toolkit reserves"  # spec §11.2, EIP-712 form
EIP712_DOMAIN_VERSION = "1"
STATIC_CAVEAT = "proves control at some past time only"  # spec §11.2, static messages

_EXCHANGE_RE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?")
_CHAIN_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_STATIC_RE = re.compile(r"[\x20-\x7e]{1,200}")


def check_exchange_name(name: str) -> str:
    """Return ``name`` if it is 1-64 printable ASCII characters without outer spaces.

    Raises:
        FormatError: empty, too long, not printable ASCII, or padded with spaces.
    """
    if not isinstance(name, str) or not _EXCHANGE_RE.fullmatch(name):
        raise FormatError(
            f"exchange name {name!r}: expected 1-64 printable ASCII characters "
            "without leading or trailing spaces"
        )
    return name


def check_chain_name(name: str) -> str:
    """Return ``name`` if it is a chain name: 1-32 of ``a-z 0-9 -``, starting alphanumeric.

    Raises:
        FormatError: otherwise.
    """
    if not isinstance(name, str) or not _CHAIN_NAME_RE.fullmatch(name):
        raise FormatError(
            f"chain name {name!r}: expected 1-32 characters of a-z 0-9 - starting with a "
            "letter or digit"
        )
    return name


def check_static_message(text: str) -> str:
    """Return ``text`` if it may serve as an opted-in static message (1-200 printable ASCII).

    Raises:
        FormatError: otherwise.
    """
    if not isinstance(text, str) or not _STATIC_RE.fullmatch(text):
        raise FormatError(f"static message {text[:40]!r}: expected 1-200 printable ASCII")
    return text


@dataclass(frozen=True)
class ChainSnapshot:
    """The block of one chain at which the round's reserves are read.

    Attributes:
        name: The chain's name in the round (``ethereum``, ``litecoin-regtest``, ...).
        height: The block number (EVM, Bitcoin family) or slot (Solana).
        block_hash: The block's hash as the node displays it, 64 lowercase hex digits.
    """

    name: str
    height: int
    block_hash: str


def challenge_message(
    exchange: str,
    round_id: str,
    liabilities_root: bytes,
    snapshots: Sequence[ChainSnapshot],
    chain: str,
    address: str,
) -> bytes:
    """The exact bytes one wallet signs for a round (spec §11.2).

    Lines joined by a single LF, no trailing newline, ASCII only::

        POR-TOOLKIT RESERVES CHALLENGE V1
        exchange: <exchange>
        round: <round id>
        liabilities root: <64 hex>
        snapshot <chain>: height <n> block <64 hex>     (one per chain, sorted by name)
        wallet: <chain> <address>

    Raises:
        FormatError: a field cannot appear in a message (bad name, hash width, height).
    """
    check_exchange_name(exchange)
    if len(liabilities_root) != 32:
        raise FormatError(f"liabilities root: expected 32 bytes, found {len(liabilities_root)}")
    check_chain_name(chain)
    if not address.isascii() or not address.isprintable() or " " in address:
        raise FormatError(f"address {address!r}: not printable ASCII without spaces")
    lines = [
        CHALLENGE_HEADER,
        f"exchange: {exchange}",
        f"round: {round_id}",
        f"liabilities root: {liabilities_root.hex()}",
    ]
    names = [s.name for s in snapshots]
    if len(set(names)) != len(names):
        raise FormatError(f"snapshots: a chain appears twice in {names}")
    for snap in sorted(snapshots, key=lambda s: s.name):
        check_chain_name(snap.name)
        if not re.fullmatch(r"[0-9a-f]{64}", snap.block_hash):
            raise FormatError(f"snapshot {snap.name}: block hash must be 64 lowercase hex")
        if snap.height < 0:
            raise FormatError(f"snapshot {snap.name}: negative height {snap.height}")
        lines.append(f"snapshot {snap.name}: height {snap.height} block {snap.block_hash}")
    lines.append(f"wallet: {chain} {address}")
    return "\n".join(lines).encode("ascii")


def eip712_challenge(message: bytes, chain_id: int) -> Mapping[str, Any]:
    """The EIP-712 typed-data form of a challenge (``eth_signTypedData_v4``), spec §11.2.

    The whole challenge text is the one field ``challenge`` of primary type ``Challenge``,
    under the domain ``{name: "por-toolkit reserves", version: "1", chainId}``.

    Raises:
        FormatError: the message is not ASCII.
    """
    try:
        text = message.decode("ascii")
    except UnicodeDecodeError as e:
        raise FormatError("EIP-712 challenge: the message must be ASCII") from e
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "Challenge": [{"name": "challenge", "type": "string"}],
        },
        "primaryType": "Challenge",
        "domain": {
            "name": EIP712_DOMAIN_NAME,
            "version": EIP712_DOMAIN_VERSION,
            "chainId": chain_id,
        },
        "message": {"challenge": text},
    }
