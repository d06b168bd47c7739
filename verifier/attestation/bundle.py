"""Checking a published round's bundle, everything it claims, in one report (spec §13.5).

Owns the bundle's layout and :func:`verify_bundle`: signatures and key ids against the key
list, the arithmetic of every solvency figure, the liabilities root, the reserves file
(through :func:`verifier.reserves.verify.verify_reserves`), the log inclusion of the
attestation, its link to the previous round's, consistency with the last tree head seen,
and the user's own proof; and whom to trust (:mod:`verifier.log.trust`): the key list
anchored by a pin or the verifier's memory of the exchange's identity, a tree head signed by
the current key, bound to this key list and recent. Files come in as bytes, the memory as a
value, "now" as an argument, nodes behind the reader protocols, so the only I/O is
:func:`read_bundle`. Every problem becomes a :class:`Finding`;
:meth:`BundleReport.raise_for_failures` is the one place a report becomes a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from verifier.attestation.model import (
    ATTESTATION_SCHEME,
    AnySummary,
    Attestation,
    Finding,
    SolvencyLine,
    check_figures,
    compare_with_files,
    payload_hash,
)
from verifier.encoding.canonical import format_time
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.proof import InclusionProof as UserProof
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof, verify_proof
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.rounddir import RISK_FILE as RISK_FILE  # the bundle names it alike
from verifier.liabilities.rounddir import ROOT_FILE as ROOT_FILE
from verifier.liabilities.summary import RootSummary, format_units
from verifier.log.proof import consistency_proof_length
from verifier.log.state import ANCHOR_FIRST_USE, ANCHOR_PIN, ExchangeMemory, VerifierState
from verifier.log.sth import ConsistencyProof, InclusionProof, SignedTreeHead, check_extends
from verifier.log.trust import (
    DEFAULT_MAX_AGE,
    UNANCHORED,
    KeyAnchor,
    TrustFailure,
    anchor_key_list,
    check_log_name,
    remembered_after,
    tree_head_findings,
)
from verifier.log.witness import COSIGNED_BY, check_bundle_witnesses, read_cosignature_files
from verifier.private.proof import PrivateProof, PrivateRoot, verify_private_proof
from verifier.reserves.model import ReservesFile
from verifier.reserves.verify import (
    Reader,
    ReservesReport,
    parse_accepted_tokens,
    verify_reserves,
)
from verifier.signed.envelope import SignedDocument
from verifier.signed.keylist import KeyList, keylist_sha256
from verifier.signed.keys import PublicKey

# The bundle's files (spec §13.4).
ATTESTATION_FILE = "attestation.json"
RESERVES_FILE = "reserves.json"
KEYLIST_FILE = "keylist.json"
TREE_HEAD_FILE = "tree-head.json"
INCLUSION_FILE = "inclusion-proof.json"
CONSISTENCY_DIR = "consistency"
PREVIOUS_ATTESTATION_FILE = "previous-attestation.json"
PREVIOUS_INCLUSION_FILE = "previous-inclusion-proof.json"
# root.json and, for a margin round, risk.json (required in the bundle of a version 3
# attestation, refused in any other, spec §13.6) are named as in a round's directory:
# ROOT_FILE and RISK_FILE of verifier.liabilities.rounddir.
REQUIRED = (ATTESTATION_FILE, ROOT_FILE, RESERVES_FILE, KEYLIST_FILE, TREE_HEAD_FILE,
            INCLUSION_FILE)
OPTIONAL = (PREVIOUS_ATTESTATION_FILE, PREVIOUS_INCLUSION_FILE, RISK_FILE)
_CONSISTENCY_RE = re.compile(r"from-([1-9][0-9]{0,15})\.json")
# Findings after which nothing of the bundle is remembered (spec §12.2).
_TRUST_CODES = frozenset({"key-list", "key-anchor", "new-log", "tree-head", "stale",
                          "log-consistency", "log-inclusion", "backdated", "signature",
                          "previous-attestation", "witness-signature",
                          "witness-quorum"})


def consistency_name(old_size: int) -> str:
    """The bundle path of the consistency proof from tree size ``old_size``."""
    return f"{CONSISTENCY_DIR}/from-{old_size}.json"


def read_bundle(directory: Path) -> dict[str, bytes]:
    """Read a bundle directory's files into memory, by their bundle path.

    Raises:
        FormatError: a required file is missing or unreadable.
    """
    files: dict[str, bytes] = {}
    for name in (*REQUIRED, *OPTIONAL):
        path = directory / name
        try:
            files[name] = path.read_bytes()
        except FileNotFoundError as e:
            if name in REQUIRED:
                raise FormatError(f"{directory}: the bundle has no {name}") from e
        except OSError as e:
            raise FormatError(f"{path}: cannot read: {e.strerror}") from e
    proofs = directory / CONSISTENCY_DIR
    if proofs.is_dir():
        for path in sorted(proofs.iterdir()):
            # Every file present is checked (spec §13.4): an unexpected one is refused,
            # not skipped.
            if not _CONSISTENCY_RE.fullmatch(path.name) or not path.is_file():
                raise FormatError(f"{path}: not a consistency proof file of the bundle "
                                  "(expected consistency/from-<m>.json)")
            try:
                files[f"{CONSISTENCY_DIR}/{path.name}"] = path.read_bytes()
            except OSError as e:
                raise FormatError(f"{path}: cannot read: {e.strerror}") from e
    files.update(read_cosignature_files(directory))  # witnesses/ (spec §14.3)
    return files


@dataclass(frozen=True)
class BundleOptions:
    """What the auditor or user brings to the check, beside the bundle itself.

    Attributes:
        readers: Builds the chain readers from the reserves file; None: chains not read.
        skip_chain: The user accepts that reserves are not re-read (stated in the report).
        auditors: Auditors' keys that must have co-signed the attestation.
        pinned_key_id: A key id obtained out of band; the key list must contain it.
        remembered: The last tree head accepted for this exchange, when no ``state`` is
            given (the older call form).
        newer_consistency: A proof from the bundle's tree size to the remembered (larger)
            one, for a bundle older than the last head seen.
        user_proof: The user's own inclusion proof.
        expected_round: The round the user means to check.
        require_full_reserves: An under-reserved asset fails the check.
        state: The verifier's memory of every exchange identity (``--state``).
        now: The verifier's time (tuf's reference time); None: the clock, read once.
        max_age: How old the tree head may be (``--max-age``).
        accept_new_log: The user accepts a new log for a known exchange.
        accept_new_identity: The user accepts a key list that does not chain to the one
            remembered under this exchange's name.
        witness_keys: Witnesses the verifier knows; only their co-signatures count.
        witness_quorum: Valid co-signatures of known witnesses required (None: all given).
        accept_past_control: As ``por-verify reserves --accept-past-control`` (stated).
        accept_noncanonical: ``SYMBOL@NETWORK`` pairs whose non-canonical token the user
            accepts, as ``por-verify reserves --accept-noncanonical-token`` (stated).
    """

    readers: Callable[[ReservesFile], Mapping[str, Reader]] | None = None
    skip_chain: bool = False
    auditors: tuple[PublicKey, ...] = ()
    pinned_key_id: str | None = None
    remembered: SignedTreeHead | None = None
    newer_consistency: ConsistencyProof | None = None
    user_proof: UserProof | MarginInclusionProof | PrivateProof | None = None
    expected_round: str | None = None
    require_full_reserves: bool = False
    state: VerifierState | None = None
    now: datetime | None = None
    max_age: timedelta = DEFAULT_MAX_AGE
    accept_new_log: bool = False
    accept_new_identity: bool = False
    witness_keys: tuple[PublicKey, ...] = ()
    witness_quorum: int | None = None
    accept_past_control: bool = False
    accept_noncanonical: tuple[str, ...] = ()

    @classmethod
    def choose(cls, *, skip_chain: bool = False, auditors: tuple[PublicKey, ...] = (),
               pinned_key_id: str | None = None, now: datetime | None = None,
               max_age_days: int = DEFAULT_MAX_AGE.days,
               witness_keys: tuple[PublicKey, ...] = (), witness_quorum: int | None = None,
               **rest: Any) -> BundleOptions:
        """The options of a check from what its caller chose, with the defaults of ``por-verify
        bundle`` (the clock as now, ``--max-age`` in days): the ONE constructor of both that
        command and the public page's check, so they cannot drift apart. ``rest``: any other
        field of :class:`BundleOptions`.

        Raises:
            TypeError: a field that does not exist (a programming error).
        """
        return cls(skip_chain=skip_chain, auditors=auditors, pinned_key_id=pinned_key_id,
                   now=now, max_age=timedelta(days=max_age_days), witness_keys=witness_keys,
                   witness_quorum=witness_quorum, **rest)


@dataclass
class BundleReport:
    """Everything a bundle check found; :meth:`raise_for_failures` gives the verdict."""

    exchange: str
    round_id: str
    solvency: tuple[SolvencyLine, ...]
    all_covered: bool
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    reserves: ReservesReport | None = None
    log: str = ""
    tree_size: int = 0
    leaf_index: int = 0
    remember: SignedTreeHead | None = None
    user_balances: dict[str, str] | None = None
    memory: ExchangeMemory | None = None
    identity: str = ""
    anchor: str = ""
    signer_read_reserves: bool | None = None
    accepted_past_control: bool = False
    accepted_noncanonical: tuple[str, ...] = ()
    # A margin round's risk parameters (the bundle's risk.json), once bound to its root.
    risk: RiskParams | None = None
    # A private round's published root (attestation version 4, spec §13.7).
    private: PrivateRoot | None = None

    @property
    def margin(self) -> bool:
        """True for a margin round's bundle (attestation version 3, spec §13.6)."""
        return any(s.margin is not None for s in self.solvency) or self.risk is not None

    @property
    def ok(self) -> bool:
        """No finding at all."""
        return not self.findings

    @property
    def verdict(self) -> str:
        """VERIFIED; UNANCHORED when the only finding is that nothing anchors the key
        list (still a failure, exit 1); else FAILED."""
        if not self.findings:
            return "VERIFIED"
        if all(f.code == UNANCHORED for f in self.findings):
            return "UNANCHORED"
        return "FAILED"

    def fail(self, code: str, message: str) -> None:
        """Record a finding."""
        self.findings.append(Finding(code, message))

    def raise_for_failures(self) -> None:
        """Raise if anything failed.

        Raises:
            VerificationError: listing every finding.
        """
        if self.findings:
            raise VerificationError(
                f"bundle of {self.exchange} round {self.round_id}: {len(self.findings)} "
                "problem(s):\n  " + "\n  ".join(str(f) for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report (amounts as decimal strings of base units)."""
        return {
            "verdict": self.verdict,
            "ok": self.ok,
            "exchange": self.exchange,
            "identity": self.identity,
            "anchor": self.anchor,
            "signer_read_reserves": self.signer_read_reserves,
            # What the user accepted (--accept-*): the attestation has no field for it.
            "accepted": {"past_control": self.accepted_past_control,
                         "noncanonical_tokens": list(self.accepted_noncanonical)},
            "round": self.round_id,
            "margin": self.margin,
            "risk": self.risk.to_obj() if self.risk is not None else None,
            "private": None if self.private is None else {
                "scheme": "por-mst-private", "version": self.private.version,
                "hidden_levels": self.private.hidden_levels,
                "unit_exponents": {a.symbol: a.unit_exponent for a in self.private.assets},
                "committed_totals": {a.symbol: str(t) for a, t in
                                     zip(self.private.assets, self.private.totals,
                                         strict=True)},
                "reveals": self.private.reveals()},
            "all_covered": self.all_covered,
            "solvency": [s.to_dict() for s in self.solvency],
            "log": {"name": self.log, "tree_size": self.tree_size,
                    "leaf_index": self.leaf_index},
            "passed": self.passed,
            "notes": self.notes,
            "findings": [{"code": f.code, "message": f.message} for f in self.findings],
            "reserves": self.reserves.to_dict() if self.reserves else None,
            "user_balances": self.user_balances,
        }

    def lines(self) -> list[str]:
        """The human-readable report, one line per item."""
        out = [f"bundle of {self.exchange}, round {self.round_id}: log {self.log!r} entry "
               f"{self.leaf_index} of {self.tree_size}"]
        if self.identity:
            out.append(f"  exchange identity (first key) {self.identity}")
        read = {True: "yes: the signer re-read the reserves from its own nodes before signing",
                False: "NO: the signer signed without re-reading the reserves from its nodes "
                       "(--skip-chain)",
                None: "not recorded (attestation version 1)"}[self.signer_read_reserves]
        out.append(f"  signer's chain check: {read}")
        if self.margin:
            out.append("  margin round: liabilities are net, total equity - total debt per "
                       "asset (every debt is covered by the borrower's own collateral at the "
                       "round's prices and haircuts, risk.json)")
        if self.private is not None:
            p = self.private
            out.append(f"  private round (por-mst-private version {p.version}"
                       + (f", hidden levels L = {p.hidden_levels}" if p.hidden_levels else "")
                       + "): liabilities = committed total x 10^e base units per asset "
                       "(each balance rounded up to a whole unit, never below the exact)")
            out.append(f"  a user's proof reveals: {p.reveals()}")
            for a, t in zip(p.assets, p.totals, strict=True):
                out.append(f"  {a.symbol:<8} committed total {t} x 10^{a.unit_exponent}")
        for s in self.solvency:
            ratio = s.ratio if s.ratio is not None else "n/a (no liabilities)"
            gap = (f"surplus {format_units(s.surplus, s.decimals)}" if s.status == "covered"
                   else f"SHORTFALL {format_units(s.shortfall, s.decimals)}")
            label = "net liabilities" if s.margin is not None else "liabilities"
            out.append(f"  {s.symbol:<8} reserves {format_units(s.reserves, s.decimals):>30}"
                       f"  {label} {format_units(s.liabilities, s.decimals):>30}"
                       f"  ratio {ratio:>14}  {s.status}, {gap}")
            if s.margin is not None:
                out.append(f"  {'':<8} equity {format_units(s.margin.equity, s.decimals)}"
                           f"  debt {format_units(s.margin.debt, s.decimals)}"
                           f"  collateral {format_units(s.margin.collateral, s.decimals)}")
        if self.user_balances is not None:
            out.append("  your proof: " + ", ".join(f"{k} {v}" for k, v in
                                                    self.user_balances.items()))
        out.extend(f"  ok    {p}" for p in self.passed)
        out.extend(f"  note  {n}" for n in self.notes)
        out.extend(f"  FAILED {f}" for f in self.findings)
        return out


def _signed(files: Mapping[str, bytes], name: str) -> SignedDocument:
    return SignedDocument.from_json(files[name], name)


def verify_bundle(files: Mapping[str, bytes], options: BundleOptions) -> BundleReport:
    """Check everything a published round's bundle claims.

    Returns:
        The report; call :meth:`BundleReport.raise_for_failures` for the verdict.

    Raises:
        FormatError: a file of the bundle (or the user's proof) is malformed.
        NodeError: a node was unreachable or answered garbage.
    """
    doc = _signed(files, ATTESTATION_FILE)
    att = Attestation.from_dict(doc.document, f"{ATTESTATION_FILE}.payload")
    summary, risk = _liabilities_files(files, att)
    reserves = ReservesFile.from_json(files[RESERVES_FILE], RESERVES_FILE)
    head = SignedTreeHead.from_json(files[TREE_HEAD_FILE], TREE_HEAD_FILE)
    inclusion = InclusionProof.from_json(files[INCLUSION_FILE], INCLUSION_FILE)
    report = BundleReport(att.exchange, att.round_id, att.solvency, att.all_covered,
                          log=head.head.log, tree_size=head.head.tree_size,
                          leaf_index=inclusion.leaf_index,
                          signer_read_reserves=att.signer_read_reserves, risk=risk,
                          private=summary if isinstance(summary, PrivateRoot) else None)
    now = options.now or datetime.now(UTC).replace(microsecond=0)
    if options.expected_round is not None and options.expected_round != att.round_id:
        report.fail("another-round", f"this bundle attests round {att.round_id!r}, not the "
                    f"round {options.expected_round!r} you asked for")
    keys = _check_keys(files, att, report)
    anchor = _check_anchor(keys, head, options, now, report)
    _check_signatures(doc, att, keys, options, report)
    _check_figures(att, summary, reserves, risk, options, report)
    if isinstance(summary, PrivateRoot):
        _check_root_opening(report)
    _check_reserves(att, reserves, options, report)
    remembered = (anchor.memory.head if anchor is not None and anchor.memory is not None
                  and anchor.memory.log == head.head.log else None)
    history_ok = _check_log(files, doc, att, head, inclusion, keys, remembered, options, now,
                            report)
    check_bundle_witnesses(files, head, options.witness_keys, options.witness_quorum, report)
    _anchor_by_witnesses(anchor, options, report)
    if options.user_proof is not None:
        _check_user_proof(options.user_proof, summary, report)
    if keys is not None and anchor is not None and history_ok:
        _decide_memory(keys, anchor, head, options, now, report)
    return report


def _liabilities_files(files: Mapping[str, bytes],
                       att: Attestation) -> tuple[AnySummary, RiskParams | None]:
    """``root.json`` in the form the attestation's version names, and a margin round's
    ``risk.json`` (spec §13.6). Which check applies is never guessed from the files: a
    version 3 attestation needs a margin root and its risk file, any other a spot root and
    no risk file (every file present is checked, §13.4).

    Raises:
        FormatError: a missing, extra or malformed file.
    """
    if att.liabilities.private is not None:
        # Version 4 (spec §13.7): a private root.json, read by the private scheme's parser
        # (its canonical RFC 8785 bytes only), and no risk file.
        if RISK_FILE in files:
            raise FormatError(f"{RISK_FILE}: a private round's bundle holds no risk file")
        return PrivateRoot.from_json(files[ROOT_FILE], ROOT_FILE), None
    if not att.liabilities.margin:
        if RISK_FILE in files:
            raise FormatError(f"{RISK_FILE}: a spot round's bundle holds no risk file (the "
                              "attestation is not of a margin round)")
        return RootSummary.from_json(files[ROOT_FILE], ROOT_FILE), None
    if RISK_FILE not in files:
        raise FormatError(f"the attestation is of a margin round, but the bundle has no "
                          f"{RISK_FILE}")
    return (MarginRootSummary.from_json(files[ROOT_FILE], ROOT_FILE),
            RiskParams.from_json(files[RISK_FILE], RISK_FILE))


def _anchor_by_witnesses(anchor: KeyAnchor | None, options: BundleOptions,
                         report: BundleReport) -> None:
    """Spec §12.2: co-signatures meeting the quorum of witnesses the user names (at least
    one valid) anchor an otherwise unanchored key list: each such witness co-signed this
    head, which binds the key list's hash, only as extending the history it remembers for
    the exchange's identity (§14.2). The user named them out of band, as with a pin."""
    if anchor is None or anchor.how != UNANCHORED or not options.witness_keys:
        return
    if any(f.code in ("witness-signature", "witness-quorum") for f in report.findings):
        return
    if not any(line.startswith(COSIGNED_BY) for line in report.passed):
        return
    report.findings = [f for f in report.findings if f.code != UNANCHORED]
    report.anchor = "witnesses"
    report.passed.append("key list anchored by the co-signatures of the witnesses you named "
                         "(no --pin, no memory of this exchange)")


def _decide_memory(keys: KeyList, anchor: KeyAnchor, head: SignedTreeHead,
                   options: BundleOptions, now: datetime, report: BundleReport) -> None:
    """What the verifier remembers after this check (spec §12.2): nothing after a failed
    trust check; a first use (TOFU) only when nothing else failed."""
    codes = {f.code for f in report.findings}
    trusted = (codes <= {UNANCHORED}) if anchor.how == UNANCHORED else not (codes & _TRUST_CODES)
    if trusted:
        report.memory = remembered_after(keys, anchor, head, options.pinned_key_id, now)


def _check_keys(files: Mapping[str, bytes], att: Attestation,
                report: BundleReport) -> KeyList | None:
    try:
        keys = KeyList.from_json(files[KEYLIST_FILE])
    except VerificationError as e:
        report.fail("key-list", str(e))
        return None
    report.identity = keys.identity
    if keys.exchange != att.exchange:
        report.fail("key-list", f"the key list is of exchange {keys.exchange!r}, the "
                    f"attestation of {att.exchange!r}")
    return keys


def _memory_of(keys: KeyList, options: BundleOptions, now: datetime) -> VerifierState:
    """The memory to anchor against: the state given, else one built from the older call
    form's ``remembered`` head."""
    if options.state is not None:
        state = options.state
    else:
        state = VerifierState()
        if options.remembered is not None:
            state.legacy[options.remembered.head.log] = options.remembered
    if keys.identity not in state.exchanges:
        for log, legacy in list(state.legacy.items()):
            claimed = state.claim_legacy(log, keys.key_ids)
            if claimed is not None:  # a head by a key of this chain: this exchange's memory
                state.exchanges[keys.identity] = ExchangeMemory(
                    keys.identity, keys.exchange,
                    ANCHOR_PIN if options.pinned_key_id else ANCHOR_FIRST_USE, now,
                    (keys.identity,), legacy.head.log, claimed)
                break
    return state


def _check_anchor(keys: KeyList | None, head: SignedTreeHead, options: BundleOptions,
                  now: datetime, report: BundleReport) -> KeyAnchor | None:
    if keys is None:
        return None
    pinned = options.pinned_key_id
    try:
        anchor = anchor_key_list(keys, _memory_of(keys, options, now), pinned,
                                 options.accept_new_identity)
        if check_log_name(anchor.memory, head, options.accept_new_log):
            report.notes.append(f"you accepted a NEW log {head.head.log!r} for this exchange "
                                f"(--accept-new-log); the history of its previous log "
                                f"{anchor.memory.log if anchor.memory else ''!r} is no longer "
                                "linked to it")
    except TrustFailure as e:
        report.fail(e.code, str(e))
        return None
    report.anchor = anchor.how
    if anchor.how == UNANCHORED:
        report.fail(UNANCHORED, f"the key list is UNANCHORED: no --pin, and this verifier "
                    f"remembers no exchange with first key {keys.identity[:16]}..; nothing you "
                    "hold vouches for it. If the rest of the bundle verifies, its first key is "
                    "recorded now (trust on first use) and later bundles must chain to it; "
                    "pin a key id you got from the exchange out of band (--pin) to anchor it")
    else:
        report.passed.append(anchor.describe(pinned))
    return anchor


def _check_signatures(doc: SignedDocument, att: Attestation, keys: KeyList | None,
                      options: BundleOptions, report: BundleReport) -> None:
    if keys is None:
        report.fail("signature", "the attestation's signature cannot be checked without a "
                    "valid key list")
        return
    try:
        signer = keys.key(att.key_id, att.attested_at)
        doc.verify_signed_by(signer, "attestation")
        report.passed.append(f"attestation signed by the exchange key {att.key_id[:16]}.. "
                             f"({signer.label}), valid at {att.attested_at:%Y-%m-%dT%H:%M:%SZ}")
    except VerificationError as e:
        report.fail("signature", str(e))
    for auditor in options.auditors:
        try:
            doc.verify_signed_by(auditor, f"attestation (auditor {auditor.label})")
            report.passed.append(f"co-signed by auditor {auditor.label} "
                                 f"({auditor.key_id[:16]}..)")
        except VerificationError as e:
            report.fail("auditor-signature", str(e))
    known = {e.key.key_id: e.key for e in keys.entries} | {a.key_id: a for a in
                                                           options.auditors}
    try:
        unchecked = doc.verify_all_known(known, "attestation")
    except VerificationError as e:
        report.fail("signature", str(e))
        return
    for key_id in unchecked:
        report.notes.append(f"a signature by key {key_id[:16]}.. was not checked: that key "
                            "is not in the key list and was not given with --auditor-key")


def _check_figures(att: Attestation, summary: AnySummary, reserves: ReservesFile,
                   risk: RiskParams | None, options: BundleOptions,
                   report: BundleReport) -> None:
    arithmetic = check_figures(att)
    files = compare_with_files(att, summary, reserves, risk)
    report.findings.extend(arithmetic)
    report.findings.extend(files)
    if not arithmetic:
        report.passed.append(f"every solvency figure recomputed ({len(att.solvency)} assets)"
                             + ("; reserves set against net liabilities, total equity - "
                                "total debt" if att.liabilities.margin else ""))
    if not files:
        report.passed.append("liabilities root, totals and leaf count match root.json; "
                             "reserves figures match the reserves file's exact bytes")
        if risk is not None:
            report.passed.append(f"risk.json is the risk file the root binds (risk hash "
                                 f"{risk.hash.hex()[:16]}..): {len(risk.assets)} assets "
                                 f"priced in {risk.quote}")
    if not att.all_covered:
        short = ", ".join(s.symbol for s in att.solvency if s.shortfall)
        if options.require_full_reserves:
            report.fail("under-reserved", f"the attestation reports a shortfall in {short}")
        else:
            report.notes.append(f"UNDER-RESERVED, as the attestation itself states: {short}")


def _check_reserves(att: Attestation, reserves: ReservesFile, options: BundleOptions,
                    report: BundleReport) -> None:
    accepted = parse_accepted_tokens(options.accept_noncanonical, reserves)
    report.accepted_noncanonical = tuple(sorted(accepted))
    report.accepted_past_control = options.accept_past_control
    if options.readers is None:
        if accepted or options.accept_past_control:
            report.notes.append("--accept-* given, but the reserves were not re-read: "
                                "nothing was accepted")
        if options.skip_chain:
            report.notes.append("reserves NOT re-read from any node (--skip-chain): the "
                                "balances and wallet signatures on chain are unchecked")
        else:
            report.fail("reserves-not-read", "no node given (--rpc NAME=URL per chain), so "
                        "no reserve was confirmed; pass --skip-chain to accept that")
        return
    result = verify_reserves(reserves, options.readers(reserves),
                             accept_past_control=options.accept_past_control,
                             accept_noncanonical=accepted)
    report.reserves = result
    for finding in result.findings:
        report.fail(f"reserves:{finding.code}", str(finding).removeprefix(f"[{finding.code}] "))
    for caveat in result.caveats:
        if caveat.code == "token-not-canonical-accepted":
            report.notes.append(f"you ACCEPTED a non-canonical token: {caveat.message}")
    lines = {a.symbol: a for a in result.assets}
    if options.accept_past_control:
        past = [f"{format_units(a.past_control_only, a.decimals)} {a.symbol}"
                for a in result.assets if a.past_control_only]
        report.notes.append(
            "you ACCEPTED past-control-only balances (--accept-past-control): "
            + (", ".join(past) if past else "none in this file")
            + "; the attestation counts them apart (past_control_only), never as counted")
    for figures in att.reserves.assets:
        line = lines.get(figures.symbol)
        # `confirmed` already leaves out past-control-only balances (spec §11.4), as
        # `counted` does (§13.3): subtracting them again failed every bundle with a
        # static-message wallet.
        confirmed = line.confirmed if line else 0
        if confirmed < figures.counted:
            report.fail("reserves-unconfirmed", f"{figures.symbol}: the attestation counts "
                        f"{figures.counted}, the nodes confirmed {confirmed}")
    if not result.findings:
        report.passed.append(f"reserves: {result.wallets_checked} wallets' signatures and "
                             "balances confirmed by the nodes given, at the snapshot blocks")


def _check_log(files: Mapping[str, bytes], doc: SignedDocument, att: Attestation,
               head: SignedTreeHead, inclusion: InclusionProof, keys: KeyList | None,
               remembered: SignedTreeHead | None, options: BundleOptions, now: datetime,
               report: BundleReport) -> bool:
    log_ok = True
    if keys is None:
        report.fail("tree-head", "the tree head's signature cannot be checked without a "
                    "valid key list")
        log_ok = False
    else:
        found = tree_head_findings(head, keys, keylist_sha256(files[KEYLIST_FILE]), now,
                                   options.max_age)
        for failure in found:
            report.fail(failure.code, str(failure))
        log_ok = not found
        if log_ok:
            report.passed.append(f"tree head signed by the current key "
                                 f"{keys.current.key_id[:16]}.., bound to this key list, "
                                 f"dated {format_time(head.head.timestamp)} (at most "
                                 f"{options.max_age.days} days before {format_time(now)})")
    if remembered is not None and inclusion.leaf_index >= remembered.head.tree_size and (
            att.attested_at < remembered.head.timestamp):
        report.fail("backdated", f"the attestation is entry {inclusion.leaf_index}, after the "
                    f"last tree head you saw (size {remembered.head.tree_size}, dated "
                    f"{format_time(remembered.head.timestamp)}), but is dated "
                    f"{format_time(att.attested_at)}, before it")
    if head.head.timestamp < att.attested_at:
        report.fail("tree-head", "the tree head is dated before the attestation was signed")
    try:
        inclusion.verify(doc.payload, head.head)
        report.passed.append(f"attestation is entry {inclusion.leaf_index} of the log "
                             f"{head.head.log!r} of size {head.head.tree_size}")
    except VerificationError as e:
        report.fail("log-inclusion", f"the attestation is not in the log under this tree "
                    f"head: {e}")
    _check_previous(files, att, head, inclusion, keys, report)
    history_ok = _check_history(files, head, remembered, options, report)
    if history_ok and log_ok and (remembered is None
                                  or remembered.head.tree_size <= head.head.tree_size):
        report.remember = head
    return history_ok and log_ok


def _check_previous(files: Mapping[str, bytes], att: Attestation, head: SignedTreeHead,
                    inclusion: InclusionProof, keys: KeyList | None,
                    report: BundleReport) -> None:
    if inclusion.leaf_index == 0:
        if att.previous is not None:
            report.fail("previous-attestation", "the attestation names a previous one, but "
                        "it is the log's first entry")
        # Spec §13.4: at i = 0 there is no previous entry; files claiming one are refused.
        for name in (PREVIOUS_ATTESTATION_FILE, PREVIOUS_INCLUSION_FILE):
            if name in files:
                raise FormatError(f"{name}: the attestation is the log's first entry, so the "
                                  "bundle must not hold a previous one")
        return
    if att.previous is None:
        report.fail("previous-attestation", f"the attestation is entry {inclusion.leaf_index} "
                    "of the log but names no previous attestation")
        return
    if PREVIOUS_ATTESTATION_FILE not in files or PREVIOUS_INCLUSION_FILE not in files:
        report.fail("previous-attestation", "the bundle lacks the previous round's "
                    "attestation and its inclusion proof, so the link cannot be checked")
        return
    previous = _signed(files, PREVIOUS_ATTESTATION_FILE)
    proof = InclusionProof.from_json(files[PREVIOUS_INCLUSION_FILE], PREVIOUS_INCLUSION_FILE)
    found = payload_hash(previous.payload)
    if found != att.previous:
        report.fail("previous-attestation", f"the previous attestation's hash is "
                    f"{found.hex()}, the attestation names {att.previous.hex()}")
        return
    if proof.leaf_index != inclusion.leaf_index - 1:
        report.fail("previous-attestation", f"the previous attestation is entry "
                    f"{proof.leaf_index}, not the entry just before ({inclusion.leaf_index - 1})")
        return
    try:
        proof.verify(previous.payload, head.head)
        before = Attestation.from_dict(previous.document, PREVIOUS_ATTESTATION_FILE)
    except VerificationError as e:
        report.fail("previous-attestation", f"the previous attestation is not in the log: {e}")
        return
    except FormatError as e:
        report.fail("previous-attestation", f"the previous entry is not a {ATTESTATION_SCHEME}"
                    f" document: {e}")
        return
    if before.exchange != att.exchange or before.round_id == att.round_id:
        report.fail("previous-attestation", f"the previous entry attests {before.exchange!r} "
                    f"round {before.round_id!r}: another exchange, or this round twice")
        return
    if keys is not None:
        try:
            previous.verify_signed_by(keys.key(before.key_id, before.attested_at),
                                      "previous attestation")
        except VerificationError as e:
            report.fail("previous-attestation", str(e))
            return
    report.passed.append(f"linked to the previous round's attestation ({before.round_id}, "
                         f"entry {proof.leaf_index})")


def _check_history(files: Mapping[str, bytes], head: SignedTreeHead,
                   remembered: SignedTreeHead | None, options: BundleOptions,
                   report: BundleReport) -> bool:
    new = head.head
    _check_every_consistency_file(files, head, report)
    if remembered is None:
        report.notes.append(f"first tree head seen for log {new.log!r} of this exchange: "
                            "nothing to compare it with")
        return True
    old = remembered.head
    try:
        if old.tree_size <= new.tree_size:
            proof = None
            if 0 < old.tree_size < new.tree_size:
                name = consistency_name(old.tree_size)
                if name not in files:
                    report.fail("log-consistency", f"the last tree head you saw has size "
                                f"{old.tree_size}; the bundle has no proof from it ({name})")
                    return False
                proof = ConsistencyProof.from_json(files[name], name)
            check_extends(old, new, proof)
            report.passed.append(f"tree head of size {new.tree_size} extends the last one seen "
                                 f"(size {old.tree_size})")
        else:
            if options.newer_consistency is None:
                report.fail("log-consistency", f"this bundle's tree head (size "
                            f"{new.tree_size}) is older than the last one seen (size "
                            f"{old.tree_size}); pass --consistency with a proof between them")
                return False
            check_extends(new, old, options.newer_consistency)
            report.passed.append(f"the last tree head seen (size {old.tree_size}) extends "
                                 f"this bundle's (size {new.tree_size})")
    except VerificationError as e:
        report.fail("log-consistency", f"the tree head does not extend the last one seen: {e}")
        return False
    return True


def _check_every_consistency_file(files: Mapping[str, bytes], head: SignedTreeHead,
                                  report: BundleReport) -> None:
    """Spec §13.4: every consistency file present is checked, used or not: its name is its
    old size, below the head's; it leads to the head's size with the number of hashes RFC
    9162 gives for those sizes. The one from the remembered size is then verified against
    the remembered root (:func:`_check_history`); the others' roots are not known here."""
    for name in sorted(n for n in files if n.startswith(f"{CONSISTENCY_DIR}/")):
        proof = ConsistencyProof.from_json(files[name], name)
        if name != consistency_name(proof.old_size) or not (
                0 < proof.old_size < head.head.tree_size):
            raise FormatError(f"{name}: a proof from size {proof.old_size} under this name, "
                              f"in a bundle of tree size {head.head.tree_size}")
        if proof.new_size != head.head.tree_size:
            report.fail("log-consistency", f"{name} leads to tree size {proof.new_size}, not "
                        f"to the head's {head.head.tree_size}")
        elif len(proof.proof) != consistency_proof_length(proof.old_size, proof.new_size):
            report.fail("log-consistency", f"{name} holds {len(proof.proof)} hashes; a proof "
                        f"from {proof.old_size} to {proof.new_size} holds "
                        f"{consistency_proof_length(proof.old_size, proof.new_size)}")


def _check_root_opening(report: BundleReport) -> None:
    """Say what public data alone established of a private root (spec §13.7); the check
    itself is :func:`verifier.attestation.model.root_opening_findings`, run with the
    figures (finding ``root-opening``)."""
    if not any(f.code == "root-opening" for f in report.findings):
        report.passed.append("root opening: the committed totals and blindings open the top "
                             "commitments, which with the attested top node's hash give the "
                             "attested root hash (no user's proof needed)")


def _check_private_user_proof(proof: UserProof | MarginInclusionProof | PrivateProof,
                              summary: AnySummary, report: BundleReport) -> None:
    """A private proof against a private round's attested root (spec §13.7, §16.9): the
    range proofs, every commitment sum, the root opening, and every field of root.json."""
    if not isinstance(proof, PrivateProof) or not isinstance(summary, PrivateRoot):
        report.fail("user-proof", "the proof and the round are not of the same scheme (a "
                    "private proof needs a private round's bundle, and the reverse)")
        return
    try:
        result = verify_private_proof(proof, summary=summary)
    except VerificationError as e:
        report.fail("user-proof", str(e))
        return
    report.user_balances = {
        a.symbol: format_units(x, a.decimals)
        for a, x in zip(result.assets, result.amounts, strict=True)
    }
    report.passed.append(f"your private proof ({result.user_id!r}) leads to this round's "
                         f"attested root ({result.range_proofs_checked} range proofs, every "
                         "commitment sum and the root opening checked)")


def _check_user_proof(proof: UserProof | MarginInclusionProof | PrivateProof,
                      summary: AnySummary, report: BundleReport) -> None:
    if isinstance(proof, PrivateProof) or isinstance(summary, PrivateRoot):
        _check_private_user_proof(proof, summary, report)
        return
    if isinstance(proof, MarginInclusionProof) or isinstance(summary, MarginRootSummary):
        _check_margin_user_proof(proof, summary, report)
        return
    try:
        result = verify_proof(proof, summary=summary)
    except VerificationError as e:
        report.fail("user-proof", str(e))
        return
    report.user_balances = {
        a.symbol: format_units(x, a.decimals)
        for a, x in zip(result.assets, result.amounts, strict=True)
    }
    report.passed.append(f"your proof ({result.user_id!r}) leads to this round's root")


def _check_margin_user_proof(proof: UserProof | MarginInclusionProof | PrivateProof,
                             summary: AnySummary, report: BundleReport) -> None:
    """A margin proof against a margin round's root (spec §15.7): the user's own rule at
    the round's prices and haircuts, the path, and every field of ``root.json``."""
    if not isinstance(proof, MarginInclusionProof) or not isinstance(summary,
                                                                     MarginRootSummary):
        report.fail("user-proof", "the proof and the round are not of the same scheme (a "
                    "margin proof needs a margin round's bundle, and the reverse)")
        return
    try:
        result = verify_margin_proof(proof, expected_root=summary.root_hash)
        summary.check_proof(result)
    except VerificationError as e:
        report.fail("user-proof", str(e))
        return
    report.user_balances = {
        a.symbol: (f"{format_units(p.equity, a.decimals)} (debt "
                   f"{format_units(p.debt, a.decimals)}, collateral "
                   f"{format_units(p.collateral, a.decimals)})")
        for a, p in zip(result.assets, result.positions, strict=True)
    }
    report.passed.append(f"your margin proof ({result.user_id!r}) leads to this round's root, "
                         f"and your haircut collateral value {result.rule.collateral_value} "
                         f"covers your debt value {result.rule.debt_value}")
