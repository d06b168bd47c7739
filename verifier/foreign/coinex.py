"""CoinEx Merkle liability proofs (``{"root": .., "self": .., "path": [..]}``).

Reproduces coinexcom/proof-of-reserves ``main.go`` (``MerkleProof.Validate``) at commit
52c6cf45. CoinEx's own example file fails that rule (an empty path entry is hashed as
sha256(h ‖ h ‖ json) but the published root needs sha256(h ‖ json)); the variant that
reproduces the published root is offered separately and labelled as not CoinEx's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from verifier.errors import FormatError
from verifier.foreign.parsing import (
    Obj,
    add,
    asset_amounts,
    go_decimal_string,
    hex_string,
    proof_object,
    sha256_hex,
)
from verifier.foreign.report import (
    NOT_TRUE_SUM,
    NOT_YOURS_ALONE,
    SRC_BROKEN_PROOFS,
    SRC_OURS,
    ForeignReport,
    Weakness,
    negative_amounts_weakness,
    negative_balance_checks,
    not_proven,
    spelling_check,
    sum_only_weakness,
)

Variant = Literal["published", "single-hash"]
FORMAT_NAMES: dict[Variant, str] = {
    "published": "coinex",
    "single-hash": "coinex-variant-single-hash",
}
RULE = "coinexcom/proof-of-reserves @52c6cf45, main.go (MerkleProof.Validate)"
VARIANT_RULE = (
    "NOT CoinEx's published rule: main.go @52c6cf45 with an empty path entry hashed as "
    "sha256(h ‖ json(balances)) instead of sha256(h ‖ h ‖ json(balances))"
)


@dataclass(frozen=True)
class Step:
    """One path entry: a sibling (hash, balances, side) or an empty entry ``{}``."""

    where: str
    hash: str
    balances: dict[str, Decimal]
    left: bool

    @property
    def empty(self) -> bool:
        """``{}``: no sibling at this level."""
        return self.hash == ""


@dataclass(frozen=True)
class Proof:
    """A parsed CoinEx proof file."""

    root_hash: str
    root_balances: dict[str, Decimal]
    self_balances: dict[str, Decimal]
    nonce: str
    path: tuple[Step, ...]
    texts: tuple[tuple[str, str, Decimal], ...] = ()  # (where, as published, value)


def _balances(obj: Obj, texts: list[tuple[str, str, Decimal]]) -> dict[str, Decimal]:
    values, published = asset_amounts(obj)
    texts.extend((obj.at(asset), text, values[asset]) for asset, text in published.items())
    return values


def parse(data: bytes, where: str = "proof") -> Proof:
    """Parse a CoinEx proof file.

    Raises:
        FormatError: not JSON, a missing or unknown field, a bad hash, amount or side.
    """
    top = proof_object(data, where, ("root", "self", "path"))
    root = top.obj("root")
    root.only(("balances", "hash"))
    me = top.obj("self")
    me.only(("balances", "nonce"))
    texts: list[tuple[str, str, Decimal]] = []
    steps = []
    for i, item in enumerate(top.array("path")):
        entry = Obj(item, f"{where}.path[{i}]")
        if not entry.keys():
            steps.append(Step(entry.where, "", {}, left=False))
            continue
        entry.only(("balances", "hash", "pos"))
        pos = entry.text("pos")
        if pos not in ("left", "right"):
            raise FormatError(f"{entry.at('pos')}: expected 'left' or 'right', found {pos!r}")
        steps.append(
            Step(
                where=entry.where,
                hash=hex_string(entry.text("hash"), entry.at("hash"), length=64),
                balances=_balances(entry.obj("balances"), texts),
                left=pos == "left",
            )
        )
    if not steps:
        raise FormatError(f"{where}.path: empty (CoinEx's tool refuses an empty path)")
    return Proof(
        root_hash=hex_string(root.text("hash"), root.at("hash"), length=64),
        root_balances=_balances(root.obj("balances"), texts),
        self_balances=_balances(me.obj("balances"), texts),
        nonce=me.text("nonce"),
        path=tuple(steps),
        texts=tuple(texts),
    )


def go_json(balances: dict[str, Decimal]) -> str:
    """Go ``json.Marshal`` of ``map[string]decimal.Decimal``: sorted keys, quoted ``String()``."""
    return (
        "{" + ",".join(f'"{a}":"{go_decimal_string(balances[a])}"' for a in sorted(balances)) + "}"
    )


def _shown(balances: dict[str, Decimal]) -> dict[str, str]:
    return {a: go_decimal_string(balances[a]) for a in sorted(balances)}


def verify(proof: Proof, variant: Variant = "published") -> ForeignReport:
    """Check a CoinEx proof with CoinEx's rule (or the named single-hash variant), and report.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    report = _report(variant)
    report.user_balances = _shown(proof.self_balances)
    report.root_balances = _shown(proof.root_balances)
    h = sha256_hex(f"{proof.nonce}{go_json(proof.self_balances)}")
    report.notes.append(f"leaf sha256(nonce + {go_json(proof.self_balances)}) = {h}")
    b = dict(proof.self_balances)
    empties = 0
    for step in proof.path:
        if step.empty:  # main.go: `if path.Hash == ""  // no right node`
            empties += 1
            h = sha256_hex(f"{h}{h}{go_json(b)}" if variant == "published" else f"{h}{go_json(b)}")
            continue
        for asset, amount in step.balances.items():
            b[asset] = add(b[asset], amount) if asset in b else amount
        h = sha256_hex(
            f"{step.hash}{h}{go_json(b)}" if step.left else f"{h}{step.hash}{go_json(b)}"
        )
    report.root_hash = h
    ok = report.check(
        "root hash",
        h == proof.root_hash,
        f"computed {h}"
        + (" = root.hash" if h == proof.root_hash else f" but root.hash is {proof.root_hash}"),
    )
    if not ok and variant == "published" and empties:
        report.notes.append(
            f"the path has {empties} empty entr{'y' if empties == 1 else 'ies'}; CoinEx's "
            "example proof reproduces its root only if an empty entry is hashed once "
            "(FORMAT coinex-variant-single-hash), which is not what CoinEx's main.go does"
        )
    if ok:  # main.go returns before comparing balances when the hash differs
        same = set(b) == set(proof.root_balances) and all(b[a] == proof.root_balances[a] for a in b)
        report.check(
            "root balances",
            same,
            f"computed {_shown(b)}"
            + ("" if same else f" but root holds {_shown(proof.root_balances)}"),
        )
    # Every amount is hashed through go_json of its value, never as published.
    spelling_check(
        report,
        proof.texts,
        go_decimal_string,
        "as CoinEx prints decimals (shopspring Decimal.String(): no trailing zeros, no '-0')",
    )
    negative_balance_checks(
        report,
        [("self.balances", proof.self_balances), ("root.balances", proof.root_balances)]
        + [(f"{s.where}.balances", s.balances) for s in proof.path],
    )
    return report


def _report(variant: Variant) -> ForeignReport:
    report = ForeignReport(
        format=FORMAT_NAMES[variant],
        exchange="CoinEx",
        rule=RULE if variant == "published" else VARIANT_RULE,
        proven=[
            "a leaf made of your nonce and these balances lies under the root hash shown, with "
            "the root totals shown (assuming SHA-256 is preimage resistant)",
        ],
        not_proven=not_proven(NOT_TRUE_SUM, NOT_YOURS_ALONE),
        weaknesses=[
            sum_only_weakness("sha256(left ‖ right ‖ JSON(running total))"),
            Weakness(
                "the published example does not verify under the published rule",
                "CoinEx's main.go hashes an empty path entry as sha256(h ‖ h ‖ json) but its "
                "example root needs sha256(h ‖ json): either the tool or the proofs are wrong, "
                "and a user running CoinEx's own tool on such a proof is told it failed.",
                SRC_OURS + " (coinexcom/proof-of-reserves main.go and example/)",
            ),
            Weakness(
                "no levels, no domain separation",
                "nothing in a path entry says its height, leaves and nodes are hashed alike, "
                "and the path length is whatever the file says, so the tree's size is not "
                "bound. Our scheme tags leaves and nodes and binds the round and asset list.",
                SRC_OURS,
            ),
            Weakness(
                "the leaf does not name the user",
                "a leaf is sha256(nonce + balances); two users with equal balances can be "
                "handed the same leaf and nonce.",
                SRC_BROKEN_PROOFS + " (identifiers that are not unique)",
            ),
            negative_amounts_weakness("CoinEx"),
        ],
    )
    if variant == "single-hash":
        report.notes.append(
            "this is a documented variant, not CoinEx's published rule: a pass here means the "
            "file matches how CoinEx apparently built its example, not that CoinEx's own tool "
            "accepts it"
        )
    return report
