"""The exchange's reserves round: wallet list in, challenge messages out, reserves file built.

Owns the operator's steps (spec §11.5): import a wallet list (CSV or JSON, every address
decoded, a bad one refused with its line), fix each chain's snapshot, write the challenge
messages, import signatures, read balances from nodes (or take them as reported), and write
the reserves file. Every file is written to a temporary name and renamed, so nothing is
ever left half written. State between steps lives in ``DIR/draft.json``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from por.errors import InputError
from verifier.attestation.model import AnySummary  # spot, margin or private (spec §13.7)
from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, VerificationError
from verifier.files import write_atomic
from verifier.liabilities.summary import parse_assets
from verifier.reserves.chains import (
    EvmReader,
    RpcBitcoinReader,
    RpcEvmReader,
    SolanaReader,
    eip1271_calldata,
    token_balance,
    token_decimals,
)
from verifier.reserves.challenge import challenge_message, check_exchange_name, eip712_challenge
from verifier.reserves.model import (
    SOURCE_NODE,
    SOURCE_REPORTED,
    Balance,
    Chain,
    Custody,
    ReservesFile,
    Signature,
    Utxo,
    Wallet,
    WalletList,
    check_chains,
    normalize_address,
    parse_chain,
    parse_custody,
    wallet_identity,
)
from verifier.reserves.rpc import NodeAnswerError, NodeError
from verifier.reserves.verify import EIP1271_MAX_SIGNATURE_BYTES, SCHEMES, Reader
from verifier.signatures.evm import (
    ethers_typed_data,
    personal_sign_digest,
    safe_message_hash,
    safe_message_typed_data,
    verify_eip1271_result,
)
from verifier.signatures.wallet import verify_wallet_signature

DRAFT_FILE = "draft.json"
CHALLENGES_DIR = "challenges"
CSV_COLUMNS = ("chain", "address", "custody", "assets", "script")
DEFAULT_MAX_BLOCKS = 1000  # blocks walked from the snapshot to the tip (spec §11.5)


def _check_wallets(wallets: list[Wallet], chains: tuple[Chain, ...], symbols: set[str],
                   where: list[str]) -> tuple[Wallet, ...]:
    """Decode every address and check chain, custody and assets; normalise addresses."""
    by_name = {c.name: c for c in chains}
    out = []
    seen: dict[tuple[str, str, str], str] = {}
    for wallet, at in zip(wallets, where, strict=True):
        chain = by_name.get(wallet.chain)
        if chain is None:
            raise InputError(f"{at}, column chain: {wallet.chain!r} is not one of {list(by_name)}")
        try:
            address = normalize_address(chain, wallet.address)
            identity = wallet_identity(chain, address)
        except FormatError as e:
            raise InputError(f"{at}, column address: {e}") from e
        # A wallet is (kind, network, canonical address) as por-verify counts it (§11.4).
        if identity in seen:
            raise InputError(f"{at}: address {address} is already listed ({seen[identity]})")
        seen[identity] = at
        for symbol in wallet.assets:
            if symbol not in symbols:
                raise InputError(f"{at}, column assets: {symbol} is not in the asset list")
            try:
                chain.asset(symbol)
            except FormatError as e:
                raise InputError(f"{at}, column assets: {e}") from e
        custody_ok = (chain.kind, wallet.custody.kind) in (
            ("bitcoin", "single"), ("bitcoin", "multisig"), ("evm", "single"),
            ("evm", "contract"), ("solana", "single"))
        if not custody_ok:
            raise InputError(f"{at}, column custody: {wallet.custody.kind} custody is not "
                             f"supported on a {chain.kind} chain")
        out.append(Wallet(wallet.chain, address, wallet.custody, wallet.assets))
    return tuple(out)


def load_wallet_list(path: Path, config: Path | None = None) -> WalletList:
    """Read a wallet list: JSON (spec §11.3), or CSV rows with chains/assets from ``config``.

    CSV columns: ``chain,address,custody,assets,script`` (assets separated by ``;``;
    ``script`` is the multisig redeem script in hex, empty otherwise). ``config`` is a JSON
    object ``{"exchange", "assets", "chains"}`` as in the JSON wallet list.

    Raises:
        InputError: unreadable, malformed, or an address that cannot be decoded (with the
            line and the reason).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot be read: {e}") from e
    if path.suffix.lower() == ".json":
        try:
            parsed = WalletList.from_json(data, str(path))
        except FormatError as e:
            raise InputError(str(e)) from e
        where = [f"{path}: wallets[{i}]" for i in range(len(parsed.wallets))]
        symbols = {a.symbol for a in parsed.assets}
        wallets = _check_wallets(list(parsed.wallets), parsed.chains, symbols, where)
        return WalletList(parsed.exchange, parsed.assets, parsed.chains, wallets)
    if config is None:
        raise InputError(f"{path}: a CSV wallet list needs --config (exchange, assets, chains)")
    try:
        raw = sj.obj(sj.loads(config.read_bytes(), str(config)), str(config),
                     {"exchange", "assets", "chains"})
        assets = parse_assets(raw["assets"], f"{config}.assets")
        chains = tuple(parse_chain(c, f"{config}.chains[{i}]", with_snapshot=False)
                       for i, c in enumerate(sj.array(raw["chains"], f"{config}.chains")))
        check_chains(chains, f"{config}.chains", [a.symbol for a in assets])
        exchange = sj.string(raw["exchange"], f"{config}.exchange")
    except (FormatError, OSError) as e:
        raise InputError(str(e)) from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8: {e}") from e
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise InputError(f"{path}, line 1: expected the header {','.join(CSV_COLUMNS)}, "
                         f"found {reader.fieldnames}")
    rows: list[Wallet] = []
    where = []
    for row in reader:
        at = f"{path}, line {reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"{at}: expected {len(CSV_COLUMNS)} columns")
        custody: Mapping[str, Any] = {"kind": row["custody"]}
        if row["custody"] == "multisig":
            custody = {"kind": "multisig", "script": row["script"].lower()}
        elif row["script"]:
            raise InputError(f"{at}, column script: only a multisig wallet has a script")
        try:
            parsed_custody: Custody = parse_custody(dict(custody), f"{at}, column custody")
        except FormatError as e:
            raise InputError(str(e)) from e
        symbols_here = tuple(s for s in row["assets"].split(";") if s)
        if not symbols_here:
            raise InputError(f"{at}, column assets: empty")
        rows.append(Wallet(row["chain"], row["address"], parsed_custody, symbols_here))
        where.append(at)
    symbols = {a.symbol for a in assets}
    try:
        check_exchange_name(exchange)
    except FormatError as e:
        raise InputError(f"{config}: {e}") from e
    return WalletList(exchange, assets, chains, _check_wallets(rows, chains, symbols, where))


def snapshot_chain(chain: Chain, reader: Reader, height: int | None) -> Chain:
    """Fix ``chain``'s snapshot at ``height`` (default: the node's latest block).

    Raises:
        NodeError: the node failed.
        InputError: no height given for a chain whose tip cannot be asked (Solana).
    """
    if chain.kind == "evm":
        evm = reader if isinstance(reader, RpcEvmReader) else None
        if height is None:
            if evm is None:
                raise InputError(f"chain {chain.name}: give --height {chain.name}=N")
            height = evm.latest_height()
        if evm is not None and evm.chain_id() != chain.chain_id:
            raise InputError(f"chain {chain.name}: the node serves chain id {evm.chain_id()}, "
                             f"the wallet list says {chain.chain_id}")
    elif chain.kind == "bitcoin" and height is None:
        if not isinstance(reader, RpcBitcoinReader):
            raise InputError(f"chain {chain.name}: give --height {chain.name}=N")
        height = reader.tip()[0]
    elif height is None:
        raise InputError(f"chain {chain.name}: give --height {chain.name}=SLOT")
    block_hash = reader.block_hash(height)
    return Chain(chain.name, chain.kind, chain.network, chain.assets, height, block_hash)


def new_draft(wallets: WalletList, summary: AnySummary, chains: tuple[Chain, ...],
              static_message: str | None = None) -> ReservesFile:
    """A reserves file without signatures and balances, each wallet's message filled in.

    The one entry point to a draft: every address is put in its canonical form here (EIP-55
    for EVM, as :func:`~verifier.reserves.model.normalize_address` gives it), whoever built
    ``wallets``, because the challenge names the address and ``por-verify`` rebuilds it from
    the canonical form (a lowercase EVM address would give a challenge it calls stale).

    Raises:
        InputError: the liabilities and reserves asset lists disagree, or a wallet is not
            usable (undecodable address, unknown chain or asset, a wallet listed twice).
        FormatError: a field cannot enter a challenge message.
    """
    liability_symbols = {a.symbol: a.decimals for a in summary.assets}
    for asset in wallets.assets:
        if liability_symbols.get(asset.symbol, asset.decimals) != asset.decimals:
            raise InputError(f"asset {asset.symbol}: {asset.decimals} decimals in the wallet "
                             f"list, {liability_symbols[asset.symbol]} in the liabilities")
    canonical = _check_wallets(
        list(wallets.wallets), chains, {a.symbol for a in wallets.assets},
        [f"wallet {i} ({w.chain} {w.address})" for i, w in enumerate(wallets.wallets)])
    snapshots = [c.snapshot() for c in chains]
    drafted = []
    for wallet in canonical:
        message = challenge_message(wallets.exchange, summary.round_id, summary.root_hash,
                                    snapshots, wallet.chain, wallet.address)
        drafted.append(Wallet(wallet.chain, wallet.address, wallet.custody, wallet.assets,
                              "round", message.decode("ascii"), None, ()))
    return ReservesFile(wallets.exchange, summary.round_id, summary.root_hash, wallets.assets,
                        chains, static_message, tuple(drafted),
                        tuple(0 for _ in wallets.assets))


def _draft_from_dict(raw: Mapping[str, Any], where: str) -> ReservesFile:
    """Parse a draft: a reserves file whose signatures may still be null."""
    copy = dict(raw)
    copy["wallets"] = [
        {**w, "signature": w.get("signature") or {"scheme": "", "value": ""}}
        if isinstance(w, dict) else w
        for w in sj.array(raw.get("wallets"), f"{where}.wallets")
    ]
    parsed = ReservesFile.from_json(json.dumps(copy), where, allow_unread=True)
    wallets = tuple(
        Wallet(w.chain, w.address, w.custody, w.assets, w.message, w.signed_message,
               w.signature if w.signature and w.signature.scheme else None, w.balances)
        for w in parsed.wallets)
    return ReservesFile(parsed.exchange, parsed.round_id, parsed.liabilities_root,
                        parsed.assets, parsed.chains, parsed.static_message, wallets,
                        parsed.totals)


def load_draft(directory: Path) -> ReservesFile:
    """Read ``DIR/draft.json``.

    Raises:
        InputError: missing or malformed.
    """
    path = directory / DRAFT_FILE
    try:
        return _draft_from_dict(sj.loads(path.read_bytes(), str(path)), str(path))
    except (FormatError, OSError) as e:
        raise InputError(f"{path}: not a usable draft (run `por reserves init`): {e}") from e


def save_draft(directory: Path, draft: ReservesFile) -> None:
    """Write ``DIR/draft.json`` atomically."""
    write_atomic(directory / DRAFT_FILE, draft.to_json())


def write_challenges(directory: Path, draft: ReservesFile) -> list[Path]:
    """One file per wallet in its chain's usual signing form (spec §11.2).

    ``NNN-<chain>-<address>.txt`` holds the exact message bytes (for ``signmessage``,
    ``personal_sign``, ``solana sign-offchain-message``); EVM wallets also get
    ``.eip712.json``, the typed data for ``eth_signTypedData_v4`` (MetaMask, eth-account),
    ``.eip712-ethers.json``, the same without ``EIP712Domain`` in ``types`` as ethers v6
    ``signTypedData(domain, types, message)`` takes it (spec §11.6), and contract wallets
    ``.eip1271.json``: the hash given to ``isValidSignature`` and, for a Safe, the
    ``SafeMessage`` typed data and hash its owners sign.
    """
    out_dir = directory / CHALLENGES_DIR
    written = []
    for index, wallet in enumerate(draft.wallets):
        assert wallet.signed_message is not None
        stem = f"{index:03d}-{wallet.chain}-{wallet.address}"
        path = out_dir / f"{stem}.txt"
        write_atomic(path, wallet.signed_message.encode("ascii"))
        written.append(path)
        chain = draft.chain(wallet.chain)
        if chain is not None and chain.kind == "evm":
            typed = eip712_challenge(wallet.signed_message.encode("ascii"), chain.chain_id)
            typed_path = out_dir / f"{stem}.eip712.json"
            write_atomic(typed_path, json.dumps(typed, indent=2) + "\n")
            written.append(typed_path)
            ethers_path = out_dir / f"{stem}.eip712-ethers.json"
            write_atomic(ethers_path, json.dumps(ethers_typed_data(typed), indent=2) + "\n")
            written.append(ethers_path)
        if chain is not None and chain.kind == "evm" and wallet.custody.kind == "contract":
            # What a contract wallet's signers need: the digest the verifier passes to
            # isValidSignature and, for a Safe, the SafeMessage its owners sign (§11.1).
            digest = personal_sign_digest(wallet.signed_message.encode("ascii"))
            guide = {
                "isValidSignature_hash": "0x" + digest.hex(),
                "safe_message_hash": "0x" + safe_message_hash(
                    wallet.address, chain.chain_id, digest).hex(),
                "safe_message_typed_data": safe_message_typed_data(
                    wallet.address, chain.chain_id, digest),
            }
            guide_path = out_dir / f"{stem}.eip1271.json"
            write_atomic(guide_path, json.dumps(guide, indent=2) + "\n")
            written.append(guide_path)
    return written


def import_signatures(draft: ReservesFile, data: bytes, where: str,
                      imported: list[int] | None = None) -> ReservesFile:
    """Attach signatures: a JSON list of ``{"chain", "address", "scheme", "value"}``.

    An optional ``"message": "static"`` marks a signature over the opted-in static message.
    Nothing is verified here: :func:`check_signatures` does that (``imported`` receives the
    indices of the wallets this file signed).

    Raises:
        InputError: malformed, or naming a wallet that is not in the draft.
    """
    chains = {c.name: c for c in draft.chains}
    # Keyed by wallet identity (spec §11.4): any spelling of a wallet's address finds it, and
    # two signatures for one wallet are refused rather than the last silently kept.
    entries: dict[tuple[str, str, str], tuple[str, str | tuple[str, ...], str]] = {}
    named: dict[tuple[str, str, str], tuple[str, str]] = {}
    try:
        items = sj.array(sj.loads(data, where), where)
        for i, item in enumerate(items):
            at = f"{where}[{i}]"
            raw = sj.obj(item, at, {"chain", "address", "scheme", "value"},
                         frozenset({"message"}))
            chain_name = sj.string(raw["chain"], f"{at}.chain")
            address = sj.string(raw["address"], f"{at}.address")
            scheme = sj.string(raw["scheme"], f"{at}.scheme")
            value = raw["value"]
            value = (tuple(sj.string(v, at) for v in value) if isinstance(value, list)
                     else sj.string(value, f"{at}.value"))
            message = sj.string(raw.get("message", "round"), f"{at}.message")
            if message not in ("round", "static"):
                raise FormatError(f"{at}.message: 'round' or 'static', found {message!r}")
            chain = chains.get(chain_name)
            if chain is None:
                raise FormatError(f"{at}: a signature for {chain_name} {address}, which is not "
                                  f"a wallet of this round (its chains: {list(chains)})")
            try:
                key = wallet_identity(chain, address)
            except FormatError as e:
                raise FormatError(f"{at}.address: {e}") from e
            if key in entries:
                raise FormatError(f"{at}: a second signature for {chain_name} {address}")
            entries[key] = (scheme, value, message)
            named[key] = (chain_name, address)
    except FormatError as e:
        raise InputError(str(e)) from e
    wallets = []
    for wallet in draft.wallets:
        wallet_chain = chains.get(wallet.chain)
        try:
            entry = (entries.pop(wallet_identity(wallet_chain, wallet.address), None)
                     if wallet_chain is not None else None)
        except FormatError as e:
            raise InputError(f"the draft's wallet {wallet.chain} {wallet.address}: {e} (run "
                             "`por reserves init` again)") from e
        if entry is None:
            wallets.append(wallet)
            continue
        scheme, value, message = entry
        if message == "static":
            if draft.static_message is None:
                raise InputError(f"{where}: a static signature for {wallet.address}, but the "
                                 "round did not opt in to a static message (--static-message)")
            signed = draft.static_message
        else:
            signed = challenge_message(
                draft.exchange, draft.round_id, draft.liabilities_root, draft.snapshots(),
                wallet.chain, wallet.address).decode("ascii")
        wallets.append(Wallet(wallet.chain, wallet.address, wallet.custody, wallet.assets,
                              message, signed, Signature(scheme, value), wallet.balances))
        if imported is not None:
            imported.append(len(wallets) - 1)
    if entries:
        chain_name, address = named[next(iter(entries))]
        raise InputError(f"{where}: a signature for {chain_name} {address}, which is not a wallet "
                         "of this round")
    return _replace_wallets(draft, tuple(wallets))


SignatureOutcome = Literal["verified", "failed", "malformed", "not-checked"]


@dataclass(frozen=True)
class SignatureCheck:
    """What ``import-signatures`` found for one wallet's signature (spec §11.5)."""

    index: int
    chain: str
    address: str
    scheme: str
    outcome: SignatureOutcome
    note: str

    def __str__(self) -> str:
        label = {"verified": "verified", "failed": "FAILED", "malformed": "MALFORMED",
                 "not-checked": "not checked"}[self.outcome]
        return f"{label}: wallet {self.index} ({self.chain} {self.address}), {self.scheme}: " \
               f"{self.note}"


def check_signatures(draft: ReservesFile, indices: list[int],
                     readers: Mapping[str, Reader] | None = None) -> list[SignatureCheck]:
    """Verify the signatures of wallets ``indices`` against their challenges, as
    ``por-verify`` will (the same functions of :mod:`verifier.signatures`).

    Contract wallets (``eip1271``) are judged by the contract at the snapshot block: with a
    node for their chain in ``readers`` the call is made, otherwise the check is
    ``not-checked`` (it cannot be done offline). Every wallet is checked; nothing raises
    for a bad signature, the caller decides from the outcomes.
    """
    return [_check_one(draft, index, readers or {}) for index in indices]


def _check_one(draft: ReservesFile, index: int,
               readers: Mapping[str, Reader]) -> SignatureCheck:
    wallet = draft.wallets[index]
    chain = draft.chain(wallet.chain)
    assert chain is not None and wallet.signature is not None
    assert wallet.signed_message is not None
    scheme = wallet.signature.scheme

    def result(outcome: SignatureOutcome, note: str) -> SignatureCheck:
        return SignatureCheck(index, wallet.chain, wallet.address, scheme, outcome, note)

    allowed = SCHEMES.get((chain.kind, wallet.custody.kind), ())
    if scheme not in allowed:
        return result("malformed", f"scheme {scheme!r} is not one of {list(allowed)} for "
                      f"{wallet.custody.kind} custody on a {chain.kind} chain")
    message = wallet.signed_message.encode("utf-8")
    try:
        # por-verify rebuilds the challenge (or takes the opted-in static message): a draft
        # whose signed message is anything else would be called stale there.
        if wallet.message == "static":
            expected = (draft.static_message.encode("ascii")
                        if draft.static_message is not None else None)
        else:
            expected = challenge_message(
                draft.exchange, draft.round_id, draft.liabilities_root, draft.snapshots(),
                chain.name, normalize_address(chain, wallet.address))
        if expected is None:
            return result("failed", "a static signature, but the round did not opt in to a "
                          "static message (--static-message)")
        if message != expected:
            return result("failed", "the signed message is not this wallet's challenge of "
                          "this round (stale): por-verify would refuse it")
        if scheme == "eip1271":
            return _check_eip1271(chain, wallet, message, readers, result)
        proof = verify_wallet_signature(
            scheme, wallet.address, message, wallet.signature.value,
            bitcoin_network=chain.bitcoin_network if chain.kind == "bitcoin" else None,
            typed_data=(eip712_challenge(message, chain.chain_id) if scheme == "eip712"
                        else None),
            redeem_script=wallet.custody.script)
    except FormatError as e:
        return result("malformed", str(e))
    except VerificationError as e:
        return result("failed", str(e))
    return result("verified", proof.detail + (f" [{proof.variant}]" if proof.variant else ""))


def _check_eip1271(chain: Chain, wallet: Wallet, message: bytes,
                   readers: Mapping[str, Reader],
                   result: Callable[[SignatureOutcome, str], SignatureCheck]) -> SignatureCheck:
    """isValidSignature at the snapshot block, when a node for the chain was given.

    Raises:
        FormatError: the value is not 0x + hex bytes.
        VerificationError: the contract refused (or reverted).
    """
    assert wallet.signature is not None and chain.height is not None
    value = wallet.signature.value
    hex_digits = value[2:] if isinstance(value, str) and value.startswith("0x") else ""
    try:
        signature = bytes.fromhex(hex_digits) if hex_digits.isascii() else b""
    except ValueError:
        signature = b""
    if not 1 <= len(signature) <= EIP1271_MAX_SIGNATURE_BYTES or len(hex_digits) % 2:
        raise FormatError(f"EIP-1271 signature: expected 0x and 1 to "
                          f"{EIP1271_MAX_SIGNATURE_BYTES} bytes of hex")
    reader = readers.get(chain.name)
    if reader is None or not hasattr(reader, "call"):
        return result("not-checked", "a contract wallet's signature is judged by the contract "
                      f"at block {chain.height}, which cannot be done offline: give --rpc "
                      f"{chain.name}=URL to check it now (por-verify always calls it)")
    digest = personal_sign_digest(message)
    try:
        answer = reader.call(wallet.address, eip1271_calldata(digest, signature), chain.height)
    except NodeAnswerError as e:
        raise VerificationError(f"EIP-1271 isValidSignature at block {chain.height} failed: "
                                f"{e}") from e
    proof = verify_eip1271_result(wallet.address, digest, answer)
    return result("verified", f"{proof.detail} at block {chain.height}")


def _replace_wallets(draft: ReservesFile, wallets: tuple[Wallet, ...]) -> ReservesFile:
    return ReservesFile(draft.exchange, draft.round_id, draft.liabilities_root, draft.assets,
                        draft.chains, draft.static_message, wallets, draft.totals)


def read_balances(draft: ReservesFile, readers: Mapping[str, Reader],
                  reported: Mapping[tuple[str, str, str], int] | None = None,
                  max_blocks: int = DEFAULT_MAX_BLOCKS,
                  log: list[str] | None = None) -> ReservesFile:
    """Read every wallet's balances at its chain's snapshot; ``reported`` fills the rest.

    Bitcoin family: the UTXO set *at the snapshot height* (see :func:`bitcoin_utxos_at`),
    each counted output recorded (outpoint, amount, height). The node's block at the
    snapshot height must still be the recorded one.

    Raises:
        NodeError: a node failed (naming the node and the call).
        InputError: no node and no reported balance for a wallet, or a node on another chain.
    """
    reported = reported or {}
    checked: set[str] = set()
    at_snapshot: dict[str, dict[str, tuple[Utxo, ...]]] = {}
    for btc_chain in draft.chains:
        btc = readers.get(btc_chain.name)
        if btc_chain.kind == "bitcoin" and isinstance(btc, RpcBitcoinReader):
            addresses = [w.address for w in draft.wallets if w.chain == btc_chain.name and any(
                (w.chain, w.address.lower(), s) not in reported for s in w.assets)]
            if addresses:
                at_snapshot[btc_chain.name] = bitcoin_utxos_at(btc_chain, btc, addresses,
                                                               max_blocks, log)
    wallets = []
    for wallet in draft.wallets:
        chain = draft.chain(wallet.chain)
        assert chain is not None and chain.height is not None
        reader = readers.get(chain.name)
        if reader is not None and chain.name not in checked:
            found = reader.block_hash(chain.height)
            if found != chain.block_hash:
                raise InputError(f"chain {chain.name}: the node's block at height "
                                 f"{chain.height} is {found}, the snapshot is {chain.block_hash}")
            if chain.kind == "evm":
                _check_token_decimals(draft, chain, reader)  # type: ignore[arg-type]
            checked.add(chain.name)
        balances = []
        for symbol in wallet.assets:
            key = (wallet.chain, wallet.address.lower(), symbol)
            if key in reported:
                balances.append(Balance(symbol, reported[key], SOURCE_REPORTED))
                continue
            if reader is None:
                raise InputError(f"{wallet.chain} {wallet.address} {symbol}: no node (--rpc "
                                 f"{wallet.chain}=URL) and no reported balance")
            if chain.name in at_snapshot:
                utxos = at_snapshot[chain.name][wallet.address]
                balances.append(Balance(symbol, sum(u.amount for u in utxos), SOURCE_NODE, utxos))
                continue
            balances.append(_read_one(chain, reader, wallet.address, symbol))
        wallets.append(Wallet(wallet.chain, wallet.address, wallet.custody, wallet.assets,
                              wallet.message, wallet.signed_message, wallet.signature,
                              tuple(balances)))
    totals = {a.symbol: 0 for a in draft.assets}
    for wallet in wallets:
        for balance in wallet.balances:
            totals[balance.asset] += balance.amount
    out = _replace_wallets(draft, tuple(wallets))
    return ReservesFile(out.exchange, out.round_id, out.liabilities_root, out.assets,
                        out.chains, out.static_message, out.wallets,
                        tuple(totals[a.symbol] for a in draft.assets))


def _check_token_decimals(draft: ReservesFile, chain: Chain, reader: EvmReader) -> None:
    """Each ERC-20's ``decimals()`` at the snapshot must be its asset's (spec §11.4): the
    verifier fails the file otherwise, so the operator hears it first.

    Raises:
        InputError: a token with other decimals, or none.
    """
    assert chain.height is not None
    decimals = {a.symbol: a.decimals for a in draft.assets}
    for entry in chain.assets:
        if entry.token is None:
            continue
        try:
            found = token_decimals(reader, entry.token, chain.height)
        except NodeError as e:
            raise InputError(f"chain {chain.name}: {entry.symbol} token {entry.token}: "
                             f"decimals() failed: {e}") from e
        if found != decimals[entry.symbol]:
            raise InputError(f"chain {chain.name}: {entry.symbol} token {entry.token} has "
                             f"{found} decimals, the asset list says "
                             f"{decimals[entry.symbol]}")


def _read_one(chain: Chain, reader: Reader, address: str, symbol: str) -> Balance:
    """Read one balance, dispatching on the chain's kind (any reader of that protocol)."""
    assert chain.height is not None
    token = chain.asset(symbol).token
    if chain.kind == "evm":
        evm: EvmReader = reader  # type: ignore[assignment]
        amount = (evm.balance(address, chain.height) if token is None
                  else token_balance(evm, token, address, chain.height))
        return Balance(symbol, amount, SOURCE_NODE)
    if chain.kind == "bitcoin":
        raise InputError(f"chain {chain.name}: UTXOs are read with Bitcoin Core RPC")
    solana: SolanaReader = reader  # type: ignore[assignment]
    if token is None:
        _slot, amount = solana.balance(address)
    else:
        # Current state, as the verifier will read it (Solana keeps no past balances).
        _slot, amount, _decimals = solana.token_balance(address, token)
    return Balance(symbol, amount, SOURCE_NODE)


def bitcoin_utxos_at(chain: Chain, reader: RpcBitcoinReader, addresses: list[str],
                     max_blocks: int = DEFAULT_MAX_BLOCKS,
                     log: list[str] | None = None) -> dict[str, tuple[Utxo, ...]]:
    """Every output paying each of ``addresses`` that was unspent at the snapshot height.

    ``scantxoutset`` reads the node's *current* UTXO set (at the scan's height H), so it is
    corrected by walking the blocks snapshot+1..H (``getblock`` verbosity 2): outputs mined
    after the snapshot are left out, and outputs mined at or below it and spent in those
    blocks are added back (found with the node's transaction index, ``-txindex=1``). At
    most ``max_blocks`` blocks are walked. ``log`` receives one line on what was corrected.

    Raises:
        NodeError: a node failed, has no transaction index when one is needed, is behind
            the snapshot, or reorganised during the read.
        InputError: the node is more than ``max_blocks`` blocks past the snapshot.
    """
    assert chain.height is not None
    snapshot = chain.height
    wanted = {normalize_address(chain, a): a for a in addresses}
    scans: dict[str, tuple[int, str, list[Utxo]]] = {}
    for address in addresses:
        height, best, found = reader.scan(address)
        if height < snapshot:
            raise NodeError(f"{reader.client.name}: at height {height}, behind the snapshot "
                            f"height {snapshot}")
        scans[address] = (height, best, [Utxo(t, v, a, h) for t, v, a, h in found])
    top = max(h for h, _, _ in scans.values())
    if top - snapshot > max_blocks:
        raise InputError(f"chain {chain.name}: the node is {top - snapshot} blocks past the "
                         f"snapshot height {snapshot}; reading balances at the snapshot walks "
                         f"each of them (--max-blocks {max_blocks}): re-run init or raise it")
    hashes = {snapshot: str(chain.block_hash)}
    created_after: set[str] = set()
    spends: list[tuple[str, int, int]] = []  # (txid, vout, height of the spending block)
    for height in range(snapshot + 1, top + 1):
        block = reader.block_spends(height)
        hashes[height] = block.block_hash
        created_after |= block.txids
        spends.extend((txid, vout, height) for txid, vout, _ in block.spends)
    for height, best, _ in scans.values():
        if hashes[height] != best:
            raise NodeError(f"{reader.client.name}: the chain reorganised while reading "
                            f"(block {height} was {best}, is now {hashes[height]}); run again")
    # Outputs spent after the snapshot that were mined at or below it, by address.
    spent_after: dict[str, list[tuple[Utxo, int]]] = {a: [] for a in addresses}
    for txid, vout, spent_at in spends:
        if txid in created_after:
            continue  # mined after the snapshot: never part of it
        amount, owner, mined = reader.locate_output(txid, vout)
        try:
            key = normalize_address(chain, owner) if owner else None
        except FormatError:
            key = None
        if key in wanted and mined <= snapshot:
            spent_after[wanted[key]].append((Utxo(txid, vout, amount, mined), spent_at))
    out: dict[str, tuple[Utxo, ...]] = {}
    added = left_out = 0
    for address, (height, _, current) in scans.items():
        counted = [u for u in current if u.height <= snapshot]
        left_out += len(current) - len(counted)
        back = [u for u, spent_at in spent_after[address] if spent_at <= height]
        added += len(back)
        out[address] = tuple(sorted(counted + back, key=lambda u: (u.height, u.txid, u.vout)))
    if log is not None:
        log.append(f"{chain.name}: UTXO set at height {snapshot} from the set at {top} "
                   f"({top - snapshot} blocks walked): {added} output(s) spent since added "
                   f"back, {left_out} mined since left out")
    return out


def load_reported(path: Path) -> dict[tuple[str, str, str], int]:
    """Read offline balances: CSV ``chain,address,asset,amount`` (base units, integers).

    Raises:
        InputError: malformed (with the line).
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot be read: {e}") from e
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != ("chain", "address", "asset", "amount"):
        raise InputError(f"{path}, line 1: expected the header chain,address,asset,amount")
    out = {}
    for row in reader:
        at = f"{path}, line {reader.line_num}"
        try:
            amount = sj.amount(row["amount"], f"{at}, column amount")
        except FormatError as e:
            raise InputError(str(e)) from e
        out[(row["chain"], row["address"].lower(), row["asset"])] = amount
    return out


def canonical_signature(signature: Signature) -> Signature:
    """The form a reserves file writes (spec §11.1): EIP-191/712 values as ``0x`` and 130
    lowercase hex digits, whatever form the wallet software gave; others unchanged."""
    value = signature.value
    if signature.scheme in ("eip191", "eip712") and isinstance(value, str):
        body = value[2:] if value[:2] in ("0x", "0X") else value
        if len(body) == 130 and all(c in "0123456789abcdefABCDEF" for c in body):
            return Signature(signature.scheme, "0x" + body.lower())
    return signature


def finish(draft: ReservesFile) -> bytes:
    """The final reserves file's bytes, after re-parsing them strictly.

    Raises:
        InputError: a wallet has no signature or no balances yet.
    """
    wallets = []
    for wallet in draft.wallets:
        if wallet.signature is None:
            raise InputError(f"{wallet.chain} {wallet.address}: no signature imported yet")
        if len(wallet.balances) != len(wallet.assets):
            raise InputError(f"{wallet.chain} {wallet.address}: balances not read yet")
        wallets.append(Wallet(wallet.chain, wallet.address, wallet.custody, wallet.assets,
                              wallet.message, wallet.signed_message,
                              canonical_signature(wallet.signature), wallet.balances))
    text = _replace_wallets(draft, tuple(wallets)).to_json()
    try:
        ReservesFile.from_json(text, "reserves file")
    except FormatError as e:  # pragma: no cover - our own output must parse
        raise InputError(f"the reserves file would not parse: {e}") from e
    return text.encode()
