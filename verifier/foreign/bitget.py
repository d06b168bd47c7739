"""Bitget Merkle liability proofs (``merkel_tree_bg.json``), 2022 and 2025 layouts.

Reproduces BitgetLimited/proof-of-reserves ``BgMerkleValidator.validate`` and
``MerKelTree.buildMerkelTreeRoot``: the 2025 rule (commit 0728a7f2, balances as JSON
strings, file key order, ``stripTrailingZeros().toPlainString()``) when the file's amounts
are strings, and the 2022 rule (commit 6863e2d2, balances as JSON numbers in a
``HashMap``, ``BigDecimal.toString()``) when they are numbers.
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
    hex_string,
    java_big_decimal_to_string,
    java_hashmap_order,
    java_strip_plain,
    path_nodes,
    proof_object,
    sha256_hex,
)
from verifier.foreign.report import (
    SRC_BROKEN_PROOFS,
    SRC_NEGATIVE,
    SRC_OURS,
    ForeignReport,
    Weakness,
    negative_balance_checks,
    node_sides_check,
    not_proven,
    spelling_check,
    sum_only_weakness,
    unbound_audit_id,
)

Layout = Literal["2025", "2022"]
RULES: dict[Layout, str] = {
    "2025": "BitgetLimited/proof-of-reserves @0728a7f2 (2025 layout: amounts as JSON strings), "
    "BgMerkleValidator.validate / MerKelTree.buildMerkelTreeRoot",
    "2022": "BitgetLimited/proof-of-reserves @6863e2d2 (2022 layout: amounts as JSON numbers), "
    "BgMerkleValidator.validate / MerKelTree.buildMerkelTreeRoot",
}
LEAF_HEX = 16  # sha256(...).substring(0, 16): 64 bits
# TreeNodeRoleConstants: 1 left, 2 right, 3 root (the 2025 root has no role).
ROLE_LEFT, ROLE_RIGHT, ROLE_ROOT = 1, 2, 3


@dataclass(frozen=True)
class Node:
    """``self`` or one ``path`` entry. ``balances`` keeps the file's key order."""

    where: str
    leaf: str
    level: int
    role: int | None
    balances: dict[str, Decimal]
    encrypt_uid: str | None = None
    nonce: str | None = None
    texts: dict[str, str] | None = None  # 2025 layout: the amounts as published


@dataclass(frozen=True)
class Proof:
    """A parsed Bitget proof file and the layout its amounts use."""

    layout: Layout
    self_node: Node
    path: tuple[Node, ...]


_FIELDS = ("auditId", "balances", "level", "merkelLeaf", "role", "encryptUid", "nonce")


def _amount_kind(value: object) -> str:
    return "string" if isinstance(value, str) else "number"


def _node(value: object, where: str, *, is_self: bool, layout: Layout) -> Node:
    obj = Obj(value, where)
    required: tuple[str, ...] = ("balances", "merkelLeaf", "level")
    if is_self:
        required += ("role", "encryptUid", "nonce")
    obj.only(required, _FIELDS)
    if obj.has("auditId"):
        obj.text("auditId")
    balances, texts = asset_amounts(obj.obj("balances"), numbers=layout == "2022")
    return Node(
        where=where,
        leaf=hex_string(obj.text("merkelLeaf"), obj.at("merkelLeaf"), length=LEAF_HEX),
        level=obj.integer("level"),
        role=obj.integer("role") if obj.has("role") else None,
        balances=balances,
        encrypt_uid=obj.text("encryptUid") if obj.has("encryptUid") else None,
        nonce=obj.text("nonce") if obj.has("nonce") else None,
        texts=texts if layout == "2025" else None,
    )


def parse(data: bytes, where: str = "proof") -> Proof:
    """Parse a Bitget ``merkel_tree_bg.json`` file; the amounts' JSON type picks the layout.

    Raises:
        FormatError: not JSON, a missing or unknown field, a bad hash or amount, or amounts
            that mix JSON strings and numbers.
    """
    top = proof_object(data, where, ("path", "self"))
    raw_nodes = [top.get("self"), *top.array("path")]
    kinds = {
        _amount_kind(amount)
        for raw in raw_nodes
        if isinstance(raw, dict) and isinstance(raw.get("balances"), dict)
        for amount in raw["balances"].values()
    }
    if len(kinds) > 1:
        raise FormatError(f"{where}: amounts mix JSON strings and numbers; Bitget uses one kind")
    layout: Layout = "2022" if kinds == {"number"} else "2025"
    self_node = _node(top.get("self"), top.at("self"), is_self=True, layout=layout)
    path = path_nodes(top, "path", lambda item, at: _node(item, at, is_self=False, layout=layout))
    return Proof(layout, self_node, path)


def balances_json(balances: dict[str, Decimal], layout: Layout) -> str:
    """fastjson's text of a balances map, as each layout's verifier hashes it.

    2025: ``JSONUtils`` writes each amount as a string, ``stripTrailingZeros().toPlainString()``,
    in insertion order (LinkedHashMap). 2022: ``JSONObject.toJSONString`` of a ``HashMap``
    writes numbers with ``BigDecimal.toString()`` in the map's bucket order.
    """
    if layout == "2025":
        items = [f'"{a}":"{java_strip_plain(v)}"' for a, v in balances.items()]
    else:
        items = [
            f'"{a}":{java_big_decimal_to_string(balances[a])}'
            for a in java_hashmap_order(list(balances))
        ]
    return "{" + ",".join(items) + "}"


def _merge(left: dict[str, Decimal], right: dict[str, Decimal]) -> dict[str, Decimal]:
    """``parent.mergeAsset(left); parent.mergeAsset(right)``: exact sums, left's keys first."""
    out = dict(left)
    for asset, amount in right.items():
        out[asset] = add(out[asset], amount) if asset in out else amount
    return out


def _shown(balances: dict[str, Decimal], layout: Layout) -> dict[str, str]:
    if layout == "2025":
        return {a: java_strip_plain(v) for a, v in balances.items()}
    return {a: java_big_decimal_to_string(v) for a, v in balances.items()}


def verify(proof: Proof) -> ForeignReport:
    """Check a Bitget proof exactly as Bitget's validator does, and report.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    layout, me, path = proof.layout, proof.self_node, proof.path
    report = _report(layout)
    report.user_balances = _shown(me.balances, layout)
    root = path[-1]
    report.root_balances = _shown(root.balances, layout)

    leaf = sha256_hex(f"{me.encrypt_uid},{me.nonce},{balances_json(me.balances, layout)}")[
        :LEAF_HEX
    ]
    report.check(
        "leaf hash",
        leaf == me.leaf,
        f"sha256(encryptUid,nonce,{balances_json(me.balances, layout)})[:16] = {leaf}"
        + ("" if leaf == me.leaf else f" but self.merkelLeaf holds {me.leaf}"),
    )
    first = path[0]
    problems = []
    if not first.balances:
        problems.append("no balances")
    if first.role is None or not 0 <= first.role <= 3:
        problems.append(f"role {first.role}, Bitget allows 0..3")
    if first.level < 1:
        problems.append(f"level {first.level}, Bitget requires >= 1")
    report.check(
        "path[0] well formed", not problems, "; ".join(problems) or "balances, role, level in range"
    )
    report.check(
        "path[0] on the other side",
        first.role is not None and first.role != me.role,
        f"self.role {me.role}, path[0].role {first.role}"
        + ("" if first.role is not None and first.role != me.role else ": not on opposite sides"),
    )
    if len(path) < 2:
        report.check("path has a root", False, "path has one entry; Bitget needs at least two")
        return report

    cur_leaf, cur_level, cur_bal = me.leaf, me.level, me.balances
    for friend in path[:-1]:
        if friend.role == 1:  # TreeNodeRoleConstants.LEFT_NODE: the friend is on the left
            left_leaf, left_level, right_leaf = friend.leaf, friend.level, cur_leaf
            total = _merge(friend.balances, cur_bal)
        else:  # right, empty or unset: the friend is on the right
            left_leaf, left_level, right_leaf = cur_leaf, cur_level, friend.leaf
            total = _merge(cur_bal, friend.balances)
        cur_level = left_level - 1  # Bitget: parent level = the left node's level - 1
        cur_leaf = sha256_hex(
            f"{left_leaf}{right_leaf},{balances_json(total, layout)},{cur_level}"
        )[:LEAF_HEX]
        cur_bal = total

    report.root_hash = cur_leaf
    report.check(
        "root hash",
        cur_leaf == root.leaf,
        f"computed {cur_leaf}"
        + (" = root merkelLeaf" if cur_leaf == root.leaf else f" but the root holds {root.leaf}"),
    )
    differ = [
        f"{a}: computed {java_strip_plain(v)} but root "
        + (f"holds {java_strip_plain(root.balances[a])}" if a in root.balances else "lacks it")
        for a, v in cur_bal.items()
        if a not in root.balances or root.balances[a] != v
    ]
    report.check(
        "root balances",
        not differ,
        "computed " + ", ".join(f"{a} {java_strip_plain(v)}" for a, v in cur_bal.items())
        if not differ
        else "; ".join(differ),
    )
    report.check(
        "root level",
        cur_level == root.level,
        f"computed {cur_level}"
        + ("" if cur_level == root.level else f" but root holds {root.level}"),
    )
    bad_levels = [f"path[{i}]: {n.level}" for i, n in enumerate(path) if n.level != me.level - i]
    report.check(
        "levels count down to the root",
        not bad_levels and root.level == 1,
        f"from {me.level} down to 1"
        if not bad_levels and root.level == 1
        else "levels out of order: " + ", ".join(bad_levels[:5] or [f"root at {root.level}"]),
        kind="extra",
    )
    extra_root_keys = sorted(set(root.balances) - set(cur_bal))
    report.check(
        "root has no extra assets",
        not extra_root_keys,
        "the root lists exactly the computed assets"
        if not extra_root_keys
        else f"the root lists {extra_root_keys}, which no node of the path sums to "
        "(Bitget's tool ignores them)",
        kind="extra",
    )
    _structure_checks(report, proof)
    negative_balance_checks(report, [(f"{n.where}.balances", n.balances) for n in (me, *path)])
    return report


def _structure_checks(report: ForeignReport, proof: Proof) -> None:
    """Our checks of what Bitget's hash leaves free: roles, asset lists, spelling, leaves."""
    me, path = proof.self_node, proof.path
    node_sides_check(
        report,
        "Bitget",
        ("role", "path"),
        me.role,
        [n.role for n in path],
        (ROLE_LEFT, ROLE_RIGHT),
        (None, ROLE_ROOT) if proof.layout == "2025" else (ROLE_ROOT,),
    )
    root_assets = list(path[-1].balances)
    differ = [
        f"{n.where} lists {sorted(n.balances)}"
        for n in (me, *path[:-1])
        if sorted(n.balances) != sorted(root_assets)
    ]
    report.check(
        "every node lists the root's assets",
        not differ,
        f"each node lists {', '.join(root_assets)} (an asset missing from a sibling is "
        "summed as if absent, so its entry is otherwise unbound)"
        if not differ
        else "; ".join(differ[:5]),
        kind="extra",
    )
    if proof.layout == "2025":
        spelling_check(
            report,
            [
                (f"{n.where}.balances.{a}", (n.texts or {})[a], v)
                for n in (me, *path)
                for a, v in n.balances.items()
            ],
            java_strip_plain,
            "as Bitget prints amounts (stripTrailingZeros().toPlainString())",
        )
    else:
        report.add_unbound(
            "path[*].balances",
            "2022 layout: a sibling's amount enters the parent only through the sum, whose "
            "scale is the larger of the two; a sibling amount re-spelt with more or fewer "
            "trailing zeros (same value) can leave the parent unchanged",
        )
    for i, n in enumerate(path):
        if n.encrypt_uid is None and n.nonce is None:
            continue
        where = f"path[{i}]"
        if i or n.encrypt_uid is None or n.nonce is None:
            report.check(
                f"{where} leaf fields",
                False,
                f"{where} carries encryptUid/nonce, which only a sibling leaf (path[0]) may, "
                "and only both together",
                kind="extra",
            )
            continue
        body = balances_json(n.balances, proof.layout)
        leaf = sha256_hex(f"{n.encrypt_uid},{n.nonce},{body}")[:LEAF_HEX]
        report.check(
            f"{where} leaf hash",
            leaf == n.leaf,
            f"sha256(encryptUid,nonce,{body})[:16] = {leaf}"
            + ("" if leaf == n.leaf else f" but {where}.merkelLeaf holds {n.leaf}"),
            kind="extra",
        )
    unbound_audit_id(report, ("self.auditId", "path[*].auditId"))


def _report(layout: Layout) -> ForeignReport:
    weaknesses = [
        Weakness(
            "hashes truncated to 64 bits",
            "every leaf and node hash is the first 16 hex digits of a SHA-256. A collision "
            "between two different subtrees costs about 2^32 hashes (minutes on a laptop), "
            "so an exchange can show different users different balances under one node; a "
            "second preimage of a given node costs about 2^64. Our scheme keeps all 256 bits.",
            SRC_OURS + " (BitgetLimited/proof-of-reserves MerkelTreeUtils.java, substring(0, 16))",
        ),
        sum_only_weakness("sha256(left ‖ right ‖ ',' ‖ JSON(sum) ‖ ',' ‖ level)[:16]"),
        Weakness(
            "only the first sibling is checked",
            "the tool validates the role and level of path[0] only; every later sibling with "
            "a role other than 1 is taken as a right child, parent levels come from the left "
            "node's own level field, and root assets that no node sums to are ignored.",
            SRC_OURS + " (BgMerkleValidator.java)",
        ),
        Weakness(
            "negative balances are accepted",
            "nothing stops a node from holding a negative amount, which lowers every total "
            "above it. The published 2025 proof has negative USDC siblings; they may be users' "
            "debts netted against liabilities, but a proof cannot tell that from hiding "
            "liabilities. We warn (and fail with --strict).",
            SRC_NEGATIVE,
        ),
        Weakness(
            "the leaf's link to you is unchecked",
            "the leaf binds encryptUid and a nonce, but the tool never derives encryptUid "
            "from your UID, so you must trust that it is yours.",
            SRC_BROKEN_PROOFS + " (identifiers that are not unique)",
        ),
    ]
    if layout == "2022":
        weaknesses.append(
            Weakness(
                "amounts as JSON numbers",
                "the 2022 file writes amounts as JSON numbers whose scale is part of the hash "
                "(92889184629.59267820); an ordinary JSON reader turns them into doubles "
                "(92889184629.59268), so a user's own check gets the wrong hash or total.",
                SRC_OURS,
            )
        )
    return ForeignReport(
        format="bitget",
        exchange="Bitget",
        rule=RULES[layout],
        proven=[
            "a leaf made of encryptUid, your nonce and these balances lies under the root "
            "shown, but only as far as 64-bit truncated hashes bind anything (see weaknesses)",
        ],
        not_proven=not_proven(
            "that the root totals are the true sum of all users' balances: sibling balances "
            "are not bound, and 64-bit hashes can be made to collide"
        ),
        weaknesses=weaknesses,
        notes=[f"{layout} layout: amounts are JSON {'numbers' if layout == '2022' else 'strings'}"],
    )
