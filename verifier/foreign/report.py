"""The report every foreign-format check returns: verdict, findings, balances, weaknesses.

A :class:`ForeignReport` records every check that was run (the exchange's own rule,
reproduced, and any stricter check of ours, kept apart), what the user's proof shows, and
what the format as published cannot show. :meth:`ForeignReport.raise_for_failures` is the one
place that turns a failed report into a :class:`~verifier.errors.VerificationError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from verifier.errors import CheckFailedError

# "exchange-rule": a check the exchange's own verifier makes, reproduced exactly.
# "extra": a stricter check of ours; failing it also fails the verdict.
# "warning": a finding the exchange's rule allows and that may be legitimate (a negative
#   balance can be a user's debt); it fails the verdict only in strict mode.
# "info": a recorded observation that never changes the verdict.
CheckKind = Literal["exchange-rule", "extra", "warning", "info"]


@dataclass(frozen=True)
class Check:
    """One check and its outcome; ``detail`` says what was expected and what was found."""

    name: str
    passed: bool
    detail: str
    kind: CheckKind = "exchange-rule"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form."""
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Weakness:
    """A property the published format does not give, why it matters, and who published it.

    ``source`` names where the weakness was published (a paper, an exchange's repository or
    issue, or this project's own reading of the exchange's code, ``docs/formats.md``).
    """

    title: str
    detail: str
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-ready form."""
        return {"title": self.title, "detail": self.detail, "source": self.source}


@dataclass(frozen=True)
class UnboundField:
    """A field of the file that neither the format's hash nor any check of ours binds.

    ``field`` is a path such as ``self.auditId`` or ``path[*].nonce`` (``[*]``: any index);
    any value there passes, so the report names it instead of pretending it was checked.
    """

    field: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-ready form."""
        return {"field": self.field, "detail": self.detail}


@dataclass
class ForeignReport:
    """Everything one foreign-format verification found.

    Attributes:
        format: the FORMAT name used on the command line (``okx-v1``, ...).
        exchange: the exchange's name.
        rule: which published verifier was reproduced (repository, commit, file).
        checks: every check run, in order.
        user_balances: the balances the proof attributes to the user, as printed in it.
        root_hash: the root the path leads to (as computed, or as published if none computed).
        root_balances: the root's balances as published in the file.
        proven: what a passing verdict establishes.
        not_proven: what it does not establish.
        weaknesses: weaknesses of the format as published.
        unbound: fields of the file "not bound by this format": any value there passes.
        notes: anything else a reader should know (chosen asset list, variant, ...).
        strict: when set, failed ``warning`` checks fail the verdict too.
    """

    format: str
    exchange: str
    rule: str
    checks: list[Check] = field(default_factory=list)
    user_balances: dict[str, str] = field(default_factory=dict)
    root_hash: str = ""
    root_balances: dict[str, str] = field(default_factory=dict)
    proven: list[str] = field(default_factory=list)
    not_proven: list[str] = field(default_factory=list)
    weaknesses: list[Weakness] = field(default_factory=list)
    unbound: list[UnboundField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strict: bool = False

    def add_unbound(self, field_path: str, detail: str) -> None:
        """Name a field that is "not bound by this format" (once)."""
        if not any(u.field == field_path for u in self.unbound):
            self.unbound.append(UnboundField(field_path, detail))

    def is_unbound(self, field_path: str) -> bool:
        """Whether ``field_path`` (e.g. ``path[3].auditId``) is named as not bound.

        A concrete index matches a ``[*]`` pattern; a field under a named one matches too.
        """
        generic = re.sub(r"\[[0-9]+\]", "[*]", field_path)
        for u in self.unbound:
            for candidate in (field_path, generic):
                if candidate == u.field or candidate.startswith(u.field + "."):
                    return True
        return False

    def check(
        self, name: str, passed: bool, detail: str, kind: CheckKind = "exchange-rule"
    ) -> bool:
        """Record a check and return whether it passed."""
        self.checks.append(Check(name, passed, detail, kind))
        return passed

    @property
    def failures(self) -> list[Check]:
        """The failed checks that decide the verdict (``info`` never does)."""
        deciding = {"exchange-rule", "extra"} | ({"warning"} if self.strict else set())
        return [c for c in self.checks if not c.passed and c.kind in deciding]

    @property
    def warnings(self) -> list[Check]:
        """Failed ``warning`` checks (reported, deciding only in strict mode)."""
        return [c for c in self.checks if not c.passed and c.kind == "warning"]

    @property
    def ok(self) -> bool:
        """True when at least one check ran and none that decides the verdict failed."""
        return bool(self.checks) and not self.failures

    @property
    def verdict(self) -> str:
        """``VERIFIED`` or ``FAILED``."""
        return "VERIFIED" if self.ok else "FAILED"

    def failure_summary(self) -> str:
        """One line naming every failed check, for an error message."""
        if not self.checks:
            return f"{self.format}: no check was run"
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failures)

    def raise_for_failures(self) -> None:
        """Raise if any deciding check failed.

        Raises:
            CheckFailedError: naming every failed check.
        """
        if not self.ok:
            raise CheckFailedError(f"{self.format}: {self.failure_summary()}")

    def to_dict(self) -> dict[str, Any]:
        """Return the machine-readable report (the ``--json`` output)."""
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "ok": self.ok,
            "format": self.format,
            "exchange": self.exchange,
            "rule": self.rule,
            "user_balances": self.user_balances,
            "root_hash": self.root_hash,
            "root_balances": self.root_balances,
            "strict": self.strict,
            "checks": [c.to_dict() for c in self.checks],
            "warnings": [c.to_dict() for c in self.warnings],
            "proven": self.proven,
            "not_proven": self.not_proven,
            "weaknesses": [w.to_dict() for w in self.weaknesses],
            "not_bound_by_this_format": [u.to_dict() for u in self.unbound],
            "notes": self.notes,
        }
        if not self.ok:
            out["error"] = self.failure_summary()
        return out

    def render_text(self) -> str:
        """Return the human-readable report."""
        lines = [f"{self.verdict}: {self.exchange} proof ({self.format})", f"rule: {self.rule}"]
        for note in self.notes:
            lines.append(f"note: {note}")
        lines.append("")
        lines.append("checks:")
        for c in self.checks:
            if c.passed:
                mark = "ok  "
            elif c.kind == "info":
                mark = "info"
            elif c.kind == "warning" and not self.strict:
                mark = "WARN"
            else:
                mark = "FAIL"
            tag = "" if c.kind == "exchange-rule" else f" [{c.kind}]"
            lines.append(f"  {mark} {c.name}{tag}: {c.detail}")
        lines.append("")
        lines.append("your balances: " + _balances(self.user_balances))
        lines.append(f"root hash:     {self.root_hash or '(none)'}")
        lines.append("root balances: " + _balances(self.root_balances))
        if self.proven:
            lines.append("")
            lines.append("what a pass proves:")
            lines.extend(f"  - {p}" for p in self.proven)
        if self.not_proven:
            lines.append("")
            lines.append("what it does not prove:")
            lines.extend(f"  - {p}" for p in self.not_proven)
        if self.weaknesses:
            lines.append("")
            lines.append("weaknesses of this format as published:")
            for w in self.weaknesses:
                source = f" (published: {w.source})" if w.source else ""
                lines.append(f"  - {w.title}: {w.detail}{source}")
        if self.unbound:
            lines.append("")
            lines.append("not bound by this format (any value here passes every check):")
            lines.extend(f"  - {u.field}: {u.detail}" for u in self.unbound)
        return "\n".join(lines)


def _balances(balances: dict[str, str]) -> str:
    if not balances:
        return "(none)"
    return ", ".join(f"{asset} {amount}" for asset, amount in balances.items())


# Weaknesses shared by several formats, worded once.

ROOT_SELF_ASSERTED = (
    "that this root is the one the exchange published and the auditor attested for this "
    "audit: the file carries its own root; compare it with the published one yourself"
)
NOT_RESERVES = "that the exchange holds assets covering these liabilities (a separate proof)"
NOT_OTHER_USERS = "that every other user's balance is in the tree, or entered in full"
NOT_TRUE_SUM = (
    "that the root totals are the true sum of all users' balances: sibling balances "
    "are not bound (see weaknesses)"
)
NOT_YOURS_ALONE = "that your leaf is yours alone (the leaf carries no user id)"


def not_proven(*specific: str) -> list[str]:
    """What a pass does not prove: the format's own gaps between the ones every path proof has.

    The list opens with :data:`ROOT_SELF_ASSERTED` and closes with :data:`NOT_OTHER_USERS`
    and :data:`NOT_RESERVES`, in the order the reports have always printed them.
    """
    return [ROOT_SELF_ASSERTED, *specific, NOT_OTHER_USERS, NOT_RESERVES]


# Where the shared weaknesses were published.
SRC_BROKEN_PROOFS = (
    "Chalkias, Chatzigiannis, Ji, 'Broken Proofs of Solvency in Blockchain Custodial Wallets "
    "and Exchanges', FC 2022 Workshops, IACR ePrint 2022/043"
)
SRC_BREAKING_BINDING = (
    "Hu, Zhang, Guo, 'Breaking the Binding: Attacks on the Merkle Approach to Prove "
    "Liabilities and its Applications', IACR ePrint 2018/1139"
)
SRC_NEGATIVE = (
    "Dagher, Bünz, Bonneau, Clark, Boneh, 'Provisions: Privacy-preserving Proofs of Solvency "
    "for Bitcoin Exchanges', ACM CCS 2015 (balances need range proofs, or a negative one "
    "cancels others)"
)
SRC_GENERALIZED_POL = (
    "Chalkias, Lewi, Mohassel, Nikolaenko, 'Distributed Auditing Proofs of Liabilities' "
    "(DAPOL), IACR ePrint 2020/468; Ji, Chalkias, 'Generalized Proof of Liabilities', "
    "ACM CCS 2021, ePrint 2021/1350"
)
SRC_OURS = "por-toolkit docs/formats.md, from the exchange's published verifier source"
SRC_ZK_CIRCUIT = (
    "Chaliasos et al., 'SoK: What Don't We Know? "
    "Understanding Security Vulnerabilities in SNARKs', USENIX Security 2024"
)
SRC_DUMMY_USER = (
    "binance/zkmerkle-proof-of-solvency, docs/updated_proof_of_solvency_to_mitigate_dummy_"
    "user_attack.md (the dummy user attack, reported by E. Bottazzi)"
)


def unbound_audit_id(report: ForeignReport, fields: Iterable[str]) -> None:
    """Name the audit-id fields, which no exchange hashes, as not bound."""
    for f in fields:
        report.add_unbound(
            f,
            "the audit id is printed in the file but hashed nowhere: a proof from another "
            "audit can carry this id, so compare the root with the one published for it",
        )


def spelling_check(
    report: ForeignReport,
    amounts: Iterable[tuple[str, str, Decimal]],
    canonical: Callable[[Decimal], str],
    how: str,
) -> None:
    """Our check that amounts hashed only by value are printed as the exchange prints them.

    A sibling's amount enters the parent hash only through a recomputed sum, so its digits
    in the file are not bound: "1.5", "1.50" and "-0" for "0" would all pass. Requiring the
    exchange's own printing (``how``) leaves one spelling per value, so an edited file fails.
    """
    bad = [f"{where} = {text!r}" for where, text, value in amounts if canonical(value) != text]
    report.check(
        "amounts printed as the exchange prints them",
        not bad,
        f"every amount not hashed as text is spelt {how}"
        if not bad
        else f"{len(bad)} amount(s) not spelt {how} (only their value is bound, so another "
        "spelling is an edit): " + ", ".join(bad[:5]),
        kind="extra",
    )


def allowed_values_check(
    report: ForeignReport, name: str, found: Iterable[tuple[str, object, Iterable[object]]]
) -> None:
    """Our check that enumerated fields hold a value the format defines (e.g. node types)."""
    bad = [f"{where} = {value!r} (defined: {sorted(map(str, allowed))})"
           for where, value, allowed in found
           if value not in set(allowed)]
    report.check(
        name,
        not bad,
        "every value is one the format defines" if not bad else "; ".join(bad[:5]),
        kind="extra",
    )


def node_sides_check(
    report: ForeignReport,
    exchange: str,
    where: tuple[str, str],
    mine: object,
    along: Sequence[object],
    sides: tuple[object, ...],
    root_values: tuple[object, ...],
) -> None:
    """Our check that ``self`` and every sibling hold a side value, and the root a root one.

    Args:
        report: the report to record the check in.
        exchange: the exchange's name, for the check's name.
        where: the field (``type``, ``role``) and the path's key (``path``, ``pathList``).
        mine: the field in ``self``.
        along: the field in each path entry, the root last.
        sides: the values a sibling may hold (left, right).
        root_values: the values the root may hold.
    """
    field_name, path_key = where
    allowed_values_check(
        report,
        f"node {field_name}s are ones {exchange} defines",
        [(f"self.{field_name}", mine, sides)]
        + [(f"{path_key}[{i}].{field_name}", v, sides) for i, v in enumerate(along[:-1])]
        + [(f"{path_key}[{len(along) - 1}].{field_name}", along[-1], root_values)],
    )


def negative_amounts_weakness(exchange: str) -> Weakness:
    """The weakness of a tool that accepts negative balances, for a format we warn on."""
    return Weakness(
        "negative amounts are accepted",
        f"nothing in {exchange}'s tool refuses a negative balance, which lowers every total "
        "above it; we warn (and fail with --strict).",
        SRC_NEGATIVE,
    )


def sum_only_weakness(node_rule: str) -> Weakness:
    """The Merkle-sum flaw where a parent binds only its children's total."""
    return Weakness(
        "only the children's total is bound into a parent",
        f"a parent is {node_rule}; neither child's own balances are in the hash, so the "
        "sibling balances shown in your path are never checked against the sibling's hash. "
        "Two users under one parent can each be shown a different split of the same total, "
        "letting the exchange understate liabilities while every path verifies. Our scheme "
        "hashes both children's sums.",
        f"{SRC_BREAKING_BINDING}; {SRC_BROKEN_PROOFS}",
    )


def negative_balance_checks(
    report: ForeignReport, balances: list[tuple[str, dict[str, Any]]]
) -> None:
    """Record our warning when a published balance is negative.

    The exchanges' verifiers accept a negative sibling balance. It may be a user's debt
    netted against liabilities, or the simplest way to subtract liabilities from a total;
    a proof cannot tell which, so it is a warning (a failure with ``--strict``).
    """
    negatives = [
        f"{where}.{asset} = {amount}"
        for where, assets in balances
        for asset, amount in assets.items()
        if amount < 0
    ]
    report.check(
        "no negative balances",
        not negatives,
        "every published balance is >= 0"
        if not negatives
        else f"{len(negatives)} negative balance(s), which subtract from the total (a user's "
        "debt netted against liabilities, or liabilities hidden; the proof cannot tell): "
        + ", ".join(negatives[:5]),
        kind="warning",
    )
