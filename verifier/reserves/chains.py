"""Reading chains: the reader protocols and one RPC reader per chain kind (spec §11.4).

The verification core (:mod:`verifier.reserves.verify`) sees only the reader protocols
below, so it is testable with plain values; the RPC readers implement them over the
JSON-RPC transport of :mod:`verifier.reserves.rpc` (HTTP, timeouts, bounded retries), as
tuf keeps ``FetcherInterface`` apart from its fetcher. Every error names the node (without
its credentials) and the call. Node answers are parsed strictly: a quantity that is not
canonical hex, or a float amount with more than 8 decimals, is an error, never rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import base58

from verifier.reserves.endpoints import redact
from verifier.reserves.rpc import JsonRpcClient, NodeAnswerError, NodeError

__all__ = ["redact"]  # re-exported: callers name nodes without credentials through it

ERC20_BALANCE_OF = bytes.fromhex("70a08231")  # balanceOf(address)
ERC20_DECIMALS = bytes.fromhex("313ce567")  # decimals()
EIP1271_IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")  # isValidSignature(bytes32,bytes)
_QUANTITY_RE = re.compile(r"0x(?:0|[1-9a-f][0-9a-f]*)")
_DATA_RE = re.compile(r"0x(?:[0-9a-f]{2})*")
_HASH_RE = re.compile(r"(0x)?([0-9a-f]{64})")
_UINT_TEXT_RE = re.compile(r"0|[1-9][0-9]{0,38}")
# Program ids of SPL Token and Token-2022, the owners of token accounts.
SPL_TOKEN_PROGRAMS = frozenset({
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
    "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
})


def parse_quantity(value: Any, where: str) -> int:
    """Decode an Ethereum JSON-RPC quantity (``0x`` + hex without leading zeros).

    Raises:
        NodeError: not a canonical quantity.
    """
    if not isinstance(value, str) or not _QUANTITY_RE.fullmatch(value):
        raise NodeError(f"{where}: expected a hex quantity, found {str(value)[:80]!r}")
    return int(value, 16)


def parse_data(value: Any, where: str) -> bytes:
    """Decode Ethereum JSON-RPC data (``0x`` + an even number of lowercase hex digits).

    Raises:
        NodeError: not hex data.
    """
    if not isinstance(value, str) or not _DATA_RE.fullmatch(value.lower()):
        raise NodeError(f"{where}: expected hex data, found {str(value)[:80]!r}")
    return bytes.fromhex(value[2:])


def parse_block_hash(value: Any, where: str) -> str:
    """Decode a block hash to 64 lowercase hex digits (``0x`` prefix allowed).

    Raises:
        NodeError: not a 32-byte hex hash.
    """
    match = _HASH_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise NodeError(f"{where}: expected a 32-byte hex block hash, found {str(value)[:80]!r}")
    return match.group(2)


def coins_to_base_units(value: Any, decimals: int, where: str) -> int:
    """Convert a node's decimal coin amount (``Decimal`` or str) to base units, exactly.

    Raises:
        NodeError: not a non-negative number with at most ``decimals`` decimals.
    """
    try:
        number = Decimal(value) if isinstance(value, (str, Decimal)) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise NodeError(f"{where}: expected a non-negative amount, found {value!r}")
    scaled = number.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise NodeError(f"{where}: {value} has more than {decimals} decimals")
    return int(scaled)


class EvmReader(Protocol):
    """What the verifier reads from an EVM chain, always at a given block number."""

    def chain_id(self) -> int:
        """The chain id the node serves (``eth_chainId``): the chain's identity."""

    def block_hash(self, height: int) -> str:
        """The hash of block ``height`` (64 lowercase hex)."""

    def balance(self, address: str, height: int) -> int:
        """The native balance of ``address`` in wei at ``height``."""

    def call(self, to: str, data: bytes, height: int) -> bytes:
        """The return data of ``eth_call`` to ``to`` with ``data`` at ``height``."""


class BitcoinReader(Protocol):
    """What the verifier reads from a Bitcoin-family node (Bitcoin Core RPC)."""

    def block_hash(self, height: int) -> str:
        """The hash of the main-chain block at ``height`` (64 lowercase hex)."""

    def output(self, txid: str, vout: int, block_hash: str) -> tuple[int, str | None]:
        """Amount (base units) and address of output ``txid:vout`` in block ``block_hash``."""

    def is_unspent(self, txid: str, vout: int) -> bool:
        """Whether ``txid:vout`` is in the node's current UTXO set."""

    def tip(self) -> tuple[int, str]:
        """(height, hash) of the node's best block."""

    def block_spends(self, height: int) -> BlockSpends:
        """The transactions of the main-chain block at ``height`` and the outputs they spend."""


@dataclass(frozen=True)
class BlockSpends:
    """What one Bitcoin-family block creates and spends (from ``getblock`` verbosity 2).

    Attributes:
        height: The block's height.
        block_hash: Its hash (64 lowercase hex).
        txids: Every transaction in the block (their outputs are created here).
        spends: ``(spent txid, spent vout, spending txid)`` for every non-coinbase input.
    """

    height: int
    block_hash: str
    txids: frozenset[str]
    spends: tuple[tuple[str, int, str], ...]


class SolanaReader(Protocol):
    """What the verifier reads from a Solana node."""

    def block_hash(self, slot: int) -> str:
        """The hash of the block at ``slot`` (64 lowercase hex of the base58 hash)."""

    def balance(self, address: str) -> tuple[int, int]:
        """(context slot, lamports) of ``address`` now: Solana reads no past slot."""

    def token_balance(self, owner: str, mint: str) -> tuple[int, int, int | None]:
        """(context slot, base units, mint decimals) of ``owner``'s SPL ``mint`` now."""


def _u256_word(data: bytes, where: str) -> int:
    if len(data) != 32:
        raise NodeError(f"{where}: expected one 32-byte word, found {len(data)} bytes")
    return int.from_bytes(data, "big")


class RpcEvmReader:
    """:class:`EvmReader` over Ethereum JSON-RPC (``eth_getBalance``, ``eth_call``...)."""

    def __init__(self, client: JsonRpcClient) -> None:
        self.client = client

    def chain_id(self) -> int:
        """The node's chain id (``eth_chainId``).

        Raises:
            NodeError: unreachable or garbage.
        """
        return parse_quantity(self.client.call("eth_chainId", []), f"{self.client.name} chainId")

    def latest_height(self) -> int:
        """The node's latest block number.

        Raises:
            NodeError: unreachable or garbage.
        """
        answer = self.client.call("eth_blockNumber", [])
        return parse_quantity(answer, f"{self.client.name}, eth_blockNumber")

    def block_hash(self, height: int) -> str:
        """See :class:`EvmReader`.

        Raises:
            NodeError: unreachable, garbage, or no such block.
        """
        where = f"{self.client.name}, eth_getBlockByNumber({height})"
        block = self.client.call("eth_getBlockByNumber", [hex(height), False])
        if not isinstance(block, dict):
            raise NodeError(f"{where}: no such block")
        return parse_block_hash(block.get("hash"), where)

    def balance(self, address: str, height: int) -> int:
        """See :class:`EvmReader`.

        Raises:
            NodeError: unreachable or garbage.
        """
        answer = self.client.call("eth_getBalance", [address, hex(height)])
        return parse_quantity(answer, f"{self.client.name}, eth_getBalance({address})")

    def call(self, to: str, data: bytes, height: int) -> bytes:
        """See :class:`EvmReader`.

        Raises:
            NodeError: unreachable, garbage, or the call reverted.
        """
        answer = self.client.call(
            "eth_call", [{"to": to, "data": "0x" + data.hex()}, hex(height)]
        )
        return parse_data(answer, f"{self.client.name}, eth_call({to})")


def token_balance(reader: EvmReader, token: str, address: str, height: int) -> int:
    """ERC-20 ``balanceOf(address)`` at ``height``, through ``eth_call``.

    Raises:
        NodeError: the node failed, or the answer is not one 32-byte word.
    """
    data = ERC20_BALANCE_OF + bytes(12) + bytes.fromhex(address[2:])
    answer = reader.call(token, data, height)
    return _u256_word(answer, f"balanceOf({address}) on token {token} at block {height}")


def token_decimals(reader: EvmReader, token: str, height: int) -> int:
    """ERC-20 ``decimals()`` of ``token`` at ``height``, through ``eth_call``.

    Raises:
        NodeAnswerError: the call reverted (no such function, or no contract).
        NodeError: the node failed, or the answer is not one word below 256.
    """
    where = f"decimals() on token {token} at block {height}"
    answer = reader.call(token, ERC20_DECIMALS, height)
    if not answer:
        # A call to an address without code returns no data: no token is there.
        raise NodeAnswerError(f"{where}: empty answer (no contract at that address?)")
    value = _u256_word(answer, where)
    if value > 255:
        raise NodeAnswerError(f"{where}: {value} is not a uint8")
    return value


def eip1271_calldata(digest: bytes, signature: bytes) -> bytes:
    """ABI-encode ``isValidSignature(bytes32 digest, bytes signature)``."""
    padded = signature + bytes(-len(signature) % 32)
    return (
        EIP1271_IS_VALID_SIGNATURE
        + digest
        + (64).to_bytes(32, "big")
        + len(signature).to_bytes(32, "big")
        + padded
    )


class RpcBitcoinReader:
    """:class:`BitcoinReader` over Bitcoin Core JSON-RPC (Litecoin Core answers the same).

    Needs no transaction index: ``getrawtransaction`` is given the block hash.
    """

    def __init__(self, client: JsonRpcClient, decimals: int = 8) -> None:
        self.client = client
        self.decimals = decimals

    def block_hash(self, height: int) -> str:
        """See :class:`BitcoinReader`.

        Raises:
            NodeError: unreachable, garbage, or no block at that height.
        """
        answer = self.client.call("getblockhash", [height])
        return parse_block_hash(answer, f"{self.client.name}, getblockhash({height})")

    def tip(self) -> tuple[int, str]:
        """(height, hash) of the node's best block.

        Raises:
            NodeError: unreachable or garbage.
        """
        info = self.client.call("getblockchaininfo", [])
        where = f"{self.client.name}, getblockchaininfo"
        if not isinstance(info, dict) or not isinstance(info.get("blocks"), int):
            raise NodeError(f"{where}: unexpected answer")
        return info["blocks"], parse_block_hash(info.get("bestblockhash"), where)

    def output(self, txid: str, vout: int, block_hash: str) -> tuple[int, str | None]:
        """See :class:`BitcoinReader`.

        Raises:
            NodeError: unreachable, garbage, or the transaction is not in that block.
        """
        where = f"{self.client.name}, getrawtransaction({txid}, {block_hash})"
        tx = self.client.call("getrawtransaction", [txid, True, block_hash])
        return self._output(tx, vout, where)

    def _output(self, tx: Any, vout: int, where: str) -> tuple[int, str | None]:
        outputs = tx.get("vout") if isinstance(tx, dict) else None
        if not isinstance(outputs, list) or not 0 <= vout < len(outputs):
            raise NodeError(f"{where}: no output {vout}")
        out = outputs[vout]
        script = out.get("scriptPubKey") if isinstance(out, dict) else None
        if not isinstance(script, dict):
            raise NodeError(f"{where}: output {vout} has no scriptPubKey")
        address = script.get("address")
        if address is None and isinstance(script.get("addresses"), list):
            addresses = script["addresses"]
            address = addresses[0] if len(addresses) == 1 else None
        amount = coins_to_base_units(out.get("value"), self.decimals, f"{where} value")
        return amount, address if isinstance(address, str) else None

    def block_spends(self, height: int) -> BlockSpends:
        """See :class:`BitcoinReader` (``getblockhash``, then ``getblock`` verbosity 2).

        Raises:
            NodeError: unreachable, garbage, or no block at that height.
        """
        block_hash = self.block_hash(height)
        where = f"{self.client.name}, getblock({block_hash}, 2) at height {height}"
        block = self.client.call("getblock", [block_hash, 2])
        if not isinstance(block, dict) or block.get("height") != height:
            raise NodeError(f"{where}: expected the block at height {height}")
        txs = block.get("tx")
        if not isinstance(txs, list) or not txs:
            raise NodeError(f"{where}: expected a non-empty list of transactions")
        txids = set()
        spends = []
        for i, tx in enumerate(txs):
            if not isinstance(tx, dict) or not isinstance(tx.get("vin"), list):
                raise NodeError(f"{where}: transaction {i} is not a decoded transaction")
            txid = parse_block_hash(tx.get("txid"), f"{where} tx {i} txid")
            txids.add(txid)
            for j, tx_in in enumerate(tx["vin"]):
                if not isinstance(tx_in, dict):
                    raise NodeError(f"{where}: tx {txid} input {j} is not an object")
                if "coinbase" in tx_in:
                    continue
                prev = parse_block_hash(tx_in.get("txid"), f"{where} tx {txid} input {j}")
                prev_vout = tx_in.get("vout")
                if isinstance(prev_vout, bool) or not isinstance(prev_vout, int) or prev_vout < 0:
                    raise NodeError(f"{where}: tx {txid} input {j} has no output index")
                spends.append((prev, prev_vout, txid))
        return BlockSpends(height, block_hash, frozenset(txids), tuple(spends))

    def locate_output(self, txid: str, vout: int) -> tuple[int, str | None, int]:
        """Amount, address and block height of output ``txid:vout``, wherever it was mined.

        Needs the node's transaction index (``-txindex=1``): the exchange side uses it to
        find the outputs its wallets spent after the snapshot (spec §11.5).

        Raises:
            NodeError: unreachable, garbage, no transaction index, or not in a main-chain
                block.
        """
        where = f"{self.client.name}, getrawtransaction({txid})"
        try:
            tx = self.client.call("getrawtransaction", [txid, True])
        except NodeAnswerError as e:
            raise NodeError(f"{where}: the node cannot find the transaction; reading balances "
                            "at a past height needs its transaction index (-txindex=1): "
                            f"{e}") from e
        block_hash = parse_block_hash(tx.get("blockhash") if isinstance(tx, dict) else None,
                                      f"{where} blockhash")
        amount, address = self._output(tx, vout, where)
        header = self.client.call("getblockheader", [block_hash, True])
        where = f"{self.client.name}, getblockheader({block_hash})"
        if not isinstance(header, dict) or not isinstance(header.get("height"), int):
            raise NodeError(f"{where}: no height in the answer")
        confirmations = header.get("confirmations")
        if not isinstance(confirmations, int) or confirmations < 1:
            raise NodeError(f"{where}: the block is not on the main chain")
        return amount, address, header["height"]

    def is_unspent(self, txid: str, vout: int) -> bool:
        """See :class:`BitcoinReader`.

        Raises:
            NodeError: unreachable.
        """
        return self.client.call("gettxout", [txid, vout, False]) is not None

    def scan(self, address: str) -> tuple[int, str, list[tuple[str, int, int, int]]]:
        """Scan the current UTXO set for ``address`` (``scantxoutset``).

        Returns:
            (height, best block hash, [(txid, vout, amount in base units, height)]).

        Raises:
            NodeError: unreachable, garbage, or the scan failed.
        """
        where = f"{self.client.name}, scantxoutset(addr({address}))"
        answer = self.client.call("scantxoutset", ["start", [f"addr({address})"]])
        if not isinstance(answer, dict) or answer.get("success") is not True:
            raise NodeError(f"{where}: the scan did not succeed: {str(answer)[:120]}")
        height = answer.get("height")
        if not isinstance(height, int):
            raise NodeError(f"{where}: no height in the answer")
        best = parse_block_hash(answer.get("bestblock"), where)
        utxos = []
        for item in answer.get("unspents", []):
            if not isinstance(item, dict) or not isinstance(item.get("vout"), int):
                raise NodeError(f"{where}: malformed unspent {str(item)[:120]}")
            txid = parse_block_hash(item.get("txid"), f"{where} txid")
            amount = coins_to_base_units(item.get("amount"), self.decimals, f"{where} amount")
            if not isinstance(item.get("height"), int):
                raise NodeError(f"{where}: unspent without height")
            utxos.append((txid, item["vout"], amount, item["height"]))
        return height, best, utxos


class RpcSolanaReader:
    """:class:`SolanaReader` over Solana JSON-RPC (``getBalance``, ``getBlock``)."""

    def __init__(self, client: JsonRpcClient) -> None:
        self.client = client

    def block_hash(self, slot: int) -> str:
        """See :class:`SolanaReader`.

        Raises:
            NodeError: unreachable, garbage, or the slot has no block.
        """
        where = f"{self.client.name}, getBlock({slot})"
        block = self.client.call(
            "getBlock",
            [slot, {"transactionDetails": "none", "rewards": False, "commitment": "finalized",
                    "maxSupportedTransactionVersion": 0}],
        )
        text = block.get("blockhash") if isinstance(block, dict) else None
        try:
            raw = base58.b58decode(text) if isinstance(text, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise NodeError(f"{where}: expected a base58 32-byte blockhash, found {text!r}")
        return raw.hex()

    def balance(self, address: str) -> tuple[int, int]:
        """See :class:`SolanaReader`.

        Raises:
            NodeError: unreachable or garbage.
        """
        where = f"{self.client.name}, getBalance({address})"
        answer = self.client.call("getBalance", [address, {"commitment": "finalized"}])
        context = answer.get("context") if isinstance(answer, dict) else None
        slot = context.get("slot") if isinstance(context, dict) else None
        value = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(slot, int) or isinstance(value, bool) or not isinstance(value, int):
            raise NodeError(f"{where}: expected {{context: {{slot}}, value: lamports}}")
        if value < 0:
            raise NodeError(f"{where}: negative balance {value}")
        return slot, value

    def token_balance(self, owner: str, mint: str) -> tuple[int, int, int | None]:
        """Sum of every SPL token account of ``owner`` for ``mint`` (``getTokenAccountsByOwner``).

        Reads current state (``finalized``), like ``getBalance``. Each account must be an
        initialised SPL Token or Token-2022 account of that mint and owner; its ``amount``
        (a decimal string of base units) is summed, never the float ``uiAmount``.

        Returns:
            (context slot, total in base units, the mint's decimals or None if no account).

        Raises:
            NodeError: unreachable, garbage, or an account of another mint or owner.
        """
        where = f"{self.client.name}, getTokenAccountsByOwner({owner}, mint {mint})"
        answer = self.client.call("getTokenAccountsByOwner", [
            owner, {"mint": mint}, {"encoding": "jsonParsed", "commitment": "finalized"}])
        context = answer.get("context") if isinstance(answer, dict) else None
        slot = context.get("slot") if isinstance(context, dict) else None
        accounts = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(slot, int) or not isinstance(accounts, list):
            raise NodeError(f"{where}: expected {{context: {{slot}}, value: [accounts]}}")
        total, decimals = 0, None
        for i, item in enumerate(accounts):
            at = f"{where}, account {i}"
            try:
                pubkey = item["pubkey"]
                program_id = item["account"]["owner"]
                data = item["account"]["data"]
                info = data["parsed"]["info"]
                amount_text = info["tokenAmount"]["amount"]
                account_decimals = info["tokenAmount"]["decimals"]
            except (KeyError, TypeError) as e:
                raise NodeError(f"{at}: not a jsonParsed token account (missing {e})") from e
            if program_id not in SPL_TOKEN_PROGRAMS or data.get("program") not in (
                    "spl-token", "spl-token-2022"):
                raise NodeError(f"{at} ({pubkey}): owned by {program_id}, not an SPL token "
                                "program")
            if info.get("mint") != mint or info.get("owner") != owner:
                raise NodeError(f"{at} ({pubkey}): mint {info.get('mint')} owner "
                                f"{info.get('owner')}, asked for mint {mint} owner {owner}")
            if info.get("state") not in ("initialized", "frozen"):
                raise NodeError(f"{at} ({pubkey}): state {info.get('state')!r}")
            if not isinstance(amount_text, str) or not _UINT_TEXT_RE.fullmatch(amount_text):
                raise NodeError(f"{at} ({pubkey}): amount {amount_text!r} is not a decimal "
                                "string of base units")
            if isinstance(account_decimals, bool) or not isinstance(account_decimals, int) or (
                    decimals is not None and account_decimals != decimals):
                raise NodeError(f"{at} ({pubkey}): decimals {account_decimals!r}")
            decimals = account_decimals
            total += int(amount_text)
        return slot, total, decimals
