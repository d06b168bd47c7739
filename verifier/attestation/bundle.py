"""Checking a published round's bundle, everything it claims, in one report (spec §13.5).

Owns the bundle's layout and :func:`verify_bundle`: signatures and key ids against the key
list, the arithmetic of every solvency figure, the liabilities root, the reserves file
(through :func:`verifier.reserves.verify.verify_reserves`), the log inclusion of the
attestation, its link to the previous round's, consistency with the last tree head seen,
and the user's own proof. Files come in as bytes and nodes behind the reader protocols, so
the only I/O is :func:`read_bundle`. Every problem becomes a :class:`Finding`;
:meth:`BundleReport.raise_for_failures` is the one place a report becomes a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.artifacts import RootSummary, format_units
from verifier.attestation.model import (
    ATTESTATION_SCHEME,
    Attestation,
    Finding,
    SolvencyLine,
    check_figures,
    compare_with_files,
    payload_hash,
)
from verifier.errors import FormatError, VerificationError
from verifier.log.sth import ConsistencyProof, InclusionProof, SignedTreeHead, check_extends
from verifier.log.witness import check_bundle_witnesses, read_cosignature_files
from verifier.proof import InclusionProof as UserProof
from verifier.proof import verify_proof
from verifier.reserves.model import ReservesFile
from verifier.reserves.verify import Reader, ReservesReport, verify_reserves
from verifier.signed.envelope import SignedDocument
from verifier.signed.keylist import KeyList
from verifier.signed.keys import PublicKey

# The bundle's files (spec §13.4).
ATTESTATION_FILE = "attestation.json"
ROOT_FILE = "root.json"
RESERVES_FILE = "reserves.json"
KEYLIST_FILE = "keylist.json"
TREE_HEAD_FILE = "tree-head.json"
INCLUSION_FILE = "inclusion-proof.json"
CONSISTENCY_DIR = "consistency"
PREVIOUS_ATTESTATION_FILE = "previous-attestation.json"
PREVIOUS_INCLUSION_FILE = "previous-inclusion-proof.json"
REQUIRED = (ATTESTATION_FILE, ROOT_FILE, RESERVES_FILE, KEYLIST_FILE, TREE_HEAD_FILE,
            INCLUSION_FILE)
OPTIONAL = (PREVIOUS_ATTESTATION_FILE, PREVIOUS_INCLUSION_FILE)
_CONSISTENCY_RE = re.compile(r"from-([1-9][0-9]{0,15})\.json")


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
            if _CONSISTENCY_RE.fullmatch(path.name):
                files[f"{CONSISTENCY_DIR}/{path.name}"] = path.read_bytes()
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
        remembered: The last tree head this verifier accepted for the bundle's log.
        newer_consistency: A proof from the bundle's tree size to the remembered (larger)
            one, for a bundle older than the last head seen.
        user_proof: The user's own inclusion proof.
        expected_round: The round the user means to check.
        require_full_reserves: An under-reserved asset fails the check.
        witness_keys: Witnesses the verifier knows; only their co-signatures count.
        witness_quorum: Valid co-signatures of known witnesses required (None: all given).
    """

    readers: Callable[[ReservesFile], Mapping[str, Reader]] | None = None
    skip_chain: bool = False
    auditors: tuple[PublicKey, ...] = ()
    pinned_key_id: str | None = None
    remembered: SignedTreeHead | None = None
    newer_consistency: ConsistencyProof | None = None
    user_proof: UserProof | None = None
    expected_round: str | None = None
    require_full_reserves: bool = False
    witness_keys: tuple[PublicKey, ...] = ()
    witness_quorum: int | None = None


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

    @property
    def ok(self) -> bool:
        """No finding at all."""
        return not self.findings

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
            "verdict": "VERIFIED" if self.ok else "FAILED",
            "ok": self.ok,
            "exchange": self.exchange,
            "round": self.round_id,
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
        for s in self.solvency:
            ratio = s.ratio if s.ratio is not None else "n/a (no liabilities)"
            gap = (f"surplus {format_units(s.surplus, s.decimals)}" if s.status == "covered"
                   else f"SHORTFALL {format_units(s.shortfall, s.decimals)}")
            out.append(f"  {s.symbol:<8} reserves {format_units(s.reserves, s.decimals):>30}"
                       f"  liabilities {format_units(s.liabilities, s.decimals):>30}"
                       f"  ratio {ratio:>14}  {s.status}, {gap}")
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
    summary = RootSummary.from_json(files[ROOT_FILE], ROOT_FILE)
    reserves = ReservesFile.from_json(files[RESERVES_FILE], RESERVES_FILE)
    head = SignedTreeHead.from_json(files[TREE_HEAD_FILE], TREE_HEAD_FILE)
    inclusion = InclusionProof.from_json(files[INCLUSION_FILE], INCLUSION_FILE)
    report = BundleReport(att.exchange, att.round_id, att.solvency, att.all_covered,
                          log=head.head.log, tree_size=head.head.tree_size,
                          leaf_index=inclusion.leaf_index)
    if options.expected_round is not None and options.expected_round != att.round_id:
        report.fail("another-round", f"this bundle attests round {att.round_id!r}, not the "
                    f"round {options.expected_round!r} you asked for")
    keys = _check_keys(files, att, options, report)
    _check_signatures(doc, att, keys, options, report)
    _check_figures(att, summary, reserves, options, report)
    _check_reserves(att, reserves, options, report)
    _check_log(files, doc, att, head, inclusion, keys, options, report)
    check_bundle_witnesses(files, head, options.witness_keys, options.witness_quorum, report)
    if options.user_proof is not None:
        _check_user_proof(options.user_proof, summary, report)
    return report


def _check_keys(files: Mapping[str, bytes], att: Attestation, options: BundleOptions,
                report: BundleReport) -> KeyList | None:
    try:
        keys = KeyList.from_json(files[KEYLIST_FILE], options.pinned_key_id)
    except VerificationError as e:
        report.fail("key-list", str(e))
        return None
    if keys.exchange != att.exchange:
        report.fail("key-list", f"the key list is of exchange {keys.exchange!r}, the "
                    f"attestation of {att.exchange!r}")
    if options.pinned_key_id is None:
        report.notes.append("key list not pinned: pass --pin KEY_ID with a key id you got "
                            "from the exchange out of band; until then it is trusted as given")
    else:
        report.passed.append(f"key list contains the pinned key {options.pinned_key_id[:16]}..")
    return keys


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


def _check_figures(att: Attestation, summary: RootSummary, reserves: ReservesFile,
                   options: BundleOptions, report: BundleReport) -> None:
    arithmetic = check_figures(att)
    files = compare_with_files(att, summary, reserves)
    report.findings.extend(arithmetic)
    report.findings.extend(files)
    if not arithmetic:
        report.passed.append(f"every solvency figure recomputed ({len(att.solvency)} assets)")
    if not files:
        report.passed.append("liabilities root, totals and leaf count match root.json; "
                             "reserves figures match the reserves file's exact bytes")
    if not att.all_covered:
        short = ", ".join(s.symbol for s in att.solvency if s.shortfall)
        if options.require_full_reserves:
            report.fail("under-reserved", f"the attestation reports a shortfall in {short}")
        else:
            report.notes.append(f"UNDER-RESERVED, as the attestation itself states: {short}")


def _check_reserves(att: Attestation, reserves: ReservesFile, options: BundleOptions,
                    report: BundleReport) -> None:
    if options.readers is None:
        if options.skip_chain:
            report.notes.append("reserves NOT re-read from any node (--skip-chain): the "
                                "balances and wallet signatures on chain are unchecked")
        else:
            report.fail("reserves-not-read", "no node given (--rpc NAME=URL per chain), so "
                        "no reserve was confirmed; pass --skip-chain to accept that")
        return
    result = verify_reserves(reserves, options.readers(reserves))
    report.reserves = result
    for finding in result.findings:
        report.fail(f"reserves:{finding.code}", str(finding).removeprefix(f"[{finding.code}] "))
    lines = {a.symbol: a for a in result.assets}
    for figures in att.reserves.assets:
        line = lines.get(figures.symbol)
        confirmed = line.confirmed - line.past_control_only if line else 0
        if confirmed < figures.counted:
            report.fail("reserves-unconfirmed", f"{figures.symbol}: the attestation counts "
                        f"{figures.counted}, the nodes confirmed {confirmed}")
    if not result.findings:
        report.passed.append(f"reserves: {result.wallets_checked} wallets' signatures and "
                             "balances confirmed by the nodes given, at the snapshot blocks")


def _check_log(files: Mapping[str, bytes], doc: SignedDocument, att: Attestation,
               head: SignedTreeHead, inclusion: InclusionProof, keys: KeyList | None,
               options: BundleOptions, report: BundleReport) -> None:
    log_ok = True
    if keys is None:
        report.fail("tree-head", "the tree head's signature cannot be checked without a "
                    "valid key list")
        log_ok = False
    else:
        try:
            head.verify_signature(keys, TREE_HEAD_FILE)
        except VerificationError as e:
            report.fail("tree-head", str(e))
            log_ok = False
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
    if _check_history(files, head, options, report) and log_ok:
        remembered = options.remembered
        if remembered is None or remembered.head.tree_size <= head.head.tree_size:
            report.remember = head


def _check_previous(files: Mapping[str, bytes], att: Attestation, head: SignedTreeHead,
                    inclusion: InclusionProof, keys: KeyList | None,
                    report: BundleReport) -> None:
    if inclusion.leaf_index == 0:
        if att.previous is not None:
            report.fail("previous-attestation", "the attestation names a previous one, but "
                        "it is the log's first entry")
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


def _check_history(files: Mapping[str, bytes], head: SignedTreeHead, options: BundleOptions,
                   report: BundleReport) -> bool:
    remembered = options.remembered
    new = head.head
    if remembered is None:
        report.notes.append(f"first tree head seen for log {new.log!r}: nothing to compare "
                            "it with; it is remembered for the next check")
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


def _check_user_proof(proof: UserProof, summary: RootSummary, report: BundleReport) -> None:
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
