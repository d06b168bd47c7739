"""The API's public response models: everything the service returns, and nothing else.

Table models of ``por.store`` are never returned; these carry no salt but a user's own
(in their own proof), no round secret, no internal id. Amounts are decimal strings of
integers in base units, never JSON numbers (docs/spec.md §8).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Hex64 = Field(pattern=r"^[0-9a-f]{64}$")
# A margin round's extra figure (docs/spec.md §13.6, §15): left out of a spot round's
# answer altogether, so a spot round's lines stay exactly the signed payload's.
MarginOnly = Field(default=None, exclude_if=lambda v: v is None)
# A private round's extra figure (docs/spec.md §13.7, §16): likewise absent elsewhere.
PrivateOnly = Field(default=None, exclude_if=lambda v: v is None)


class Public(BaseModel):
    """Base of every response model: unknown fields are refused when the model is built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(Public):
    """An error answer: what was not found or not allowed."""

    detail: str


class AssetOut(Public):
    """An asset of a round, in the round's order; in a private round (§16.3) with the unit
    exponent e: amounts are committed in units of 10^e base units."""

    symbol: str
    decimals: int
    unit_exponent: int | None = PrivateOnly


class PositionOut(Public):
    """A margin round's figures in one asset (docs/spec.md §15.2): what users own, what they
    borrowed, and what of their holdings they pledged against it; never a net."""

    equity: str
    debt: str
    collateral: str


class LiabilitiesRoot(Public):
    """The round's published root summary (root.json): a spot round's (docs/spec.md §8.1),
    or a margin round's (§15.10), whose ``totals`` are equity, debt and collateral per asset
    and whose ``risk_hash`` binds its prices and haircuts (``risk.json``), or a private
    round's (§16.7, version 2 hybrid with ``hidden_levels``, §16.14), whose ``totals`` are
    committed totals in units of 10^e base units, opened by their ``blindings``."""

    scheme: Literal["por-mst", "por-mst-margin", "por-mst-private"]
    version: Literal[1, 2]
    round: str
    assets: list[AssetOut]
    leaf_count: int
    root_hash: str = Hex64
    totals: list[str] | list[PositionOut]
    risk_hash: str | None = MarginOnly
    blindings: list[str] | None = PrivateOnly
    hidden_levels: int | None = PrivateOnly


class AssetSolvency(Public):
    """Per asset: reserves against liabilities, recomputed exactly from the published files
    by the attestation's own rule (docs/spec.md §13.2-13.3: only balances read from a node
    in wallets that signed this round's challenge count).

    ``ratio`` is reserves/liabilities as a decimal string rounded down to 6 places
    (``null`` when there are no liabilities); at most one of ``surplus`` and ``shortfall``
    is non-zero. ``reserves`` and ``status`` are ``null`` when no reserves file is published.
    In a margin round (§13.6) ``liabilities`` is the net, max(0, total equity − total
    debt), and the three totals are given beside it; they are ``null`` in a spot round.
    """

    symbol: str
    decimals: int
    liabilities: str
    reserves: str | None
    ratio: str | None
    surplus: str
    shortfall: str
    status: Literal["covered", "under-reserved"] | None
    total_equity: str | None = MarginOnly
    total_debt: str | None = MarginOnly
    total_collateral: str | None = MarginOnly
    committed_total: str | None = PrivateOnly
    unit_exponent: int | None = PrivateOnly


class SignedSolvency(Public):
    """One asset's solvency figures exactly as the attestation states them (§13.2; a margin
    round's, version 3, with net ``liabilities`` and the totals beside them, §13.6)."""

    symbol: str
    decimals: int
    reserves: str
    liabilities: str
    ratio: str | None
    surplus: str
    shortfall: str
    status: Literal["covered", "under-reserved"]
    total_equity: str | None = MarginOnly
    total_debt: str | None = MarginOnly
    total_collateral: str | None = MarginOnly


class SignedChain(Public):
    """A chain's snapshot block as the attestation states it."""

    name: str
    kind: str
    network: str
    height: int
    block_hash: str = Hex64


class SignerOut(Public):
    """A signature over the attestation: the key, whose it is, and this server's check.

    ``role``: ``exchange`` (the key the payload names, from the key list), ``auditor`` (an
    auditor key the service was given), ``unknown``. ``check``: ``verified``, ``failed``, or
    ``not-checked`` (a key this server does not know: check it with ``por-verify bundle
    --auditor-key``).
    """

    key_id: str = Hex64
    label: str | None
    role: Literal["exchange", "auditor", "unknown"]
    check: Literal["verified", "failed", "not-checked"]


class FindingOut(Public):
    """Something that does not hold: the verifier's own finding codes and messages
    (docs/spec.md §13.5, as ``por-verify bundle`` prints them), ``malformed`` when the
    bundle does not parse, ``not-in-log`` when no bundle is published yet, and
    ``round-directory`` (in ``served_findings``) about the server's own files."""

    code: str
    message: str


class SignedAttestationOut(Public):
    """A round's attestation AS SIGNED (parsed from its exact payload), and the verifier's
    check of the round's bundle (the bytes ``/bundle`` serves), run by this server as
    ``por-verify bundle --skip-chain`` with the auditor keys it was given: ``verdict`` is
    ``verified`` (exit 0), ``failed`` (exit 1: ``findings`` lists every reason, with the
    verifier's codes and messages), ``malformed`` (exit 2) or ``not-in-log`` (no bundle yet).
    ``passed`` and ``notes`` are the verifier's report lines. ``null`` figures mean the
    payload did not parse."""

    payload_sha256: str = Hex64
    log_index: int | None
    exchange: str | None
    snapshot_time: str | None
    attested_at: str | None
    key_id: str | None
    previous_attestation: str | None
    liabilities_root: str | None
    leaf_count: int | None
    reserves_file_sha256: str | None
    chains: list[SignedChain]
    solvency: list[SignedSolvency]
    all_covered: bool | None
    signers: list[SignerOut]
    verdict: Literal["verified", "failed", "malformed", "not-in-log"]
    findings: list[FindingOut]
    passed: list[str]
    notes: list[str]
    checked_as: str
    served_findings: list[FindingOut]


class ChainSnapshotOut(Public):
    """A chain's snapshot block as the reserves file names it."""

    chain: str
    kind: str
    network: str
    height: int
    block_hash: str


class SignatureOut(Public):
    """A signature over a signed document's exact payload bytes."""

    key_id: str = Hex64
    signature: str


class SignedEnvelope(Public):
    """A signed document (docs/spec.md §12.3): the exact payload bytes, base64, and every
    signature over them."""

    scheme: Literal["por-signed"]
    version: Literal[1]
    payload: str
    signatures: list[SignatureOut]


class RoundLinks(Public):
    """Where the round's artifacts are served."""

    liabilities_root: str
    reserves: str | None
    wallets: str | None
    attestation: str | None
    bundle: str | None
    risk: str | None = None  # a margin round's risk.json


class CheckLine(Public):
    """One line of a round's headline: what was checked, and how it came out.

    ``status``: ``ok``, ``warn`` (not checked here, or missing), ``fail``."""

    name: str
    status: Literal["ok", "warn", "fail"]
    text: str


class Shortfall(Public):
    """An under-reserved asset in words: ``amount`` in asset units (exact, trailing zeros
    dropped), ``percent`` the ratio rounded down to 0.1 %."""

    symbol: str
    amount: str
    percent: str


class Headline(Public):
    """A round's verdict for a member of the public.

    ``state``: ``covered`` (the bundle check passed and every asset is covered),
    ``under-reserved`` (it passed, and the exchange itself states a shortfall), ``failed``
    (the check failed: do not rely on the figures), ``not-in-log`` (signed, not published
    in the log yet), ``not-attested`` (no signed attestation yet)."""

    state: Literal["covered", "under-reserved", "failed", "not-in-log", "not-attested"]
    title: str
    summary: str
    covered: int
    assets: int
    short: list[Shortfall]
    checks: list[CheckLine]
    as_of: str | None = None  # the tree head's time the round's check was judged at
    freshness: CheckLine | None = None  # the log's latest signed head, at the server's clock


class PrivacyOut(Public):
    """What a user's proof of a private round reveals of other users (docs/spec.md §16.11,
    §16.14): ``hidden_levels`` None is full hiding (version 1), else the hybrid's L."""

    scheme_version: Literal[1, 2]
    hidden_levels: int | None
    levels: int
    reveals: str


class RoundOut(Public):
    """A round: its root, the solvency figures per asset and what has been published; a
    private round's ``privacy`` says what its proofs reveal (absent for other rounds)."""

    round: str
    exchange: str | None
    created_at: datetime | None
    liabilities: LiabilitiesRoot
    solvency: list[AssetSolvency]
    snapshots: list[ChainSnapshotOut]
    reserves_published: bool
    attestation_published: bool
    cosigners: list[str]
    attestation: SignedAttestationOut | None
    headline: Headline
    links: RoundLinks
    privacy: PrivacyOut | None = PrivateOnly


class RoundList(Public):
    """Every round, newest first."""

    rounds: list[RoundOut]


class BalanceOut(Public):
    """A wallet's balance of one asset; ``source`` ``reported`` was not read from a node.

    ``counted``: whether the attestation's rule (docs/spec.md §13.3) counts it in the
    reserves; ``not_counted`` says why not (``null`` when counted)."""

    asset: str
    amount: str
    source: str
    counted: bool
    not_counted: str | None


class WalletOut(Public):
    """A wallet of the reserves file, with the server's offline signature check.

    ``signature_check``: ``verified`` (the signature over this round's message verified
    when the server loaded the file), ``failed``, or ``needs-node`` (EIP-1271: judged by the
    contract at the snapshot block; run ``por-verify reserves --rpc``). Balances are checked
    against chain nodes only by ``por-verify reserves``.
    """

    chain: str
    kind: str
    network: str
    address: str
    custody: str
    assets: list[str]
    message: str
    signed_message: str | None
    signature_scheme: str | None
    signature: str | list[str] | None
    balances: list[BalanceOut]
    signature_check: Literal["verified", "failed", "needs-node"]
    check_note: str
    explorer_url: str | None


class WalletList(Public):
    """Every wallet of a round's reserves file."""

    round: str
    exchange: str
    wallets: list[WalletOut]


class TreeHeadOut(Public):
    """A signed tree head of the transparency log: its fields and its exact signed bytes."""

    log: str
    tree_size: int
    root_hash: str = Hex64
    timestamp: str
    key_id: str = Hex64
    signed: SignedEnvelope


class LogEntryOut(Public):
    """One entry of the log: its exact bytes (base64) and RFC 6962 leaf hash."""

    leaf_index: int
    leaf_hash: str = Hex64
    entry: str


class LogInclusionOut(Public):
    """An RFC 9162 inclusion proof file (docs/spec.md §12.2)."""

    scheme: Literal["por-log-inclusion"]
    version: Literal[1]
    leaf_index: int
    tree_size: int
    proof: list[str]


class LogConsistencyOut(Public):
    """An RFC 9162 consistency proof file (docs/spec.md §12.2)."""

    scheme: Literal["por-log-consistency"]
    version: Literal[1]
    old_size: int
    new_size: int
    proof: list[str]


class AttestationOut(Public):
    """A round's attestation as stored: the exact signed payload and every signature,
    and where it sits in the log."""

    round: str
    payload_sha256: str = Hex64
    signed: SignedEnvelope
    log_index: int | None


class PathStepOut(Public):
    """One step of a user's path: the sibling's side, hash and sums."""

    side: Literal["left", "right"]
    hash: str = Hex64
    sums: list[str]


class ProofRootOut(Public):
    """The root a proof leads to."""

    hash: str = Hex64
    sums: list[str]
    leaf_count: int


class UserProof(Public):
    """A user's inclusion proof, exactly the file of docs/spec.md §8.2 (in a margin round,
    the margin proof of §15.7, whose fields are those of ``verifier.liabilities.proof``)."""

    scheme: Literal["por-mst"]
    version: Literal[1]
    round: str
    assets: list[AssetOut]
    user_id: str
    salt: str = Hex64
    amounts: list[str]
    path: list[PathStepOut]
    root: ProofRootOut


class Pong(Public):
    """The liveness answer."""

    ok: bool
