"""MEXC Merkle liability proofs (``{"pathList": [...], "self": {...}}``).

Reproduces mexcmerkle/mexc-proof-of-reserves ``MerkleProofValidator.validate`` (package
``com.mexc.merkle``) at commit a1a4f495: 128-bit truncated SHA-256, balances as sorted
``TOKEN:amount`` text, a missing level meaning an empty sibling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from verifier.foreign.parsing import (
    Obj,
    add,
    asset_amounts,
    hex_string,
    java_strip_plain,
    path_nodes,
    proof_object,
    sha256_hex,
)
from verifier.foreign.report import (
    SRC_OURS,
    ForeignReport,
    Weakness,
    negative_amounts_weakness,
    negative_balance_checks,
    node_sides_check,
    not_proven,
    spelling_check,
    sum_only_weakness,
)

RULE = (
    "mexcmerkle/mexc-proof-of-reserves @a1a4f495, com.mexc.merkle.util."
    "MerkleProofValidator.validate"
)
HASH_HEX = 32  # SignatureUtil.genHashId: sha256 hex .substring(0, 32), 128 bits
LEFT, RIGHT, ROOT = 1, 2, 3
DEFAULT_ASSETS = ("BTC", "USDT", "ETH", "USDC")  # initBalanceData's putIfAbsent keys


@dataclass(frozen=True)
class Node:
    """A path node, the user's own node, or a computed one; ``balances`` as read."""

    where: str
    level: int
    type: int
    hash: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Proof:
    """A parsed MEXC proof file."""

    self_node: Node
    proof_id: str
    account_id: str
    path: tuple[Node, ...]


def _node(obj: Obj, *, allow_empty_hash: bool) -> Node:
    balances, texts = asset_amounts(obj.obj("balances"))
    digest = obj.text("hash")
    if not (allow_empty_hash and digest == ""):
        hex_string(digest, obj.at("hash"), length=HASH_HEX)
    return Node(
        where=obj.where,
        level=obj.integer("level"),
        type=obj.integer("type"),
        hash=digest,
        balances=balances,
        texts=texts,
    )


def _path_entry(value: object, where: str) -> Node:
    entry = Obj(value, where)
    entry.only(("level", "type", "hash", "balances"))
    return _node(entry, allow_empty_hash=True)


def parse(data: bytes, where: str = "proof") -> Proof:
    """Parse a MEXC proof file.

    Raises:
        FormatError: not JSON, a missing or unknown field, a bad hash or amount.
    """
    top = proof_object(data, where, ("pathList", "self"))
    me = top.obj("self")
    me.only(("level", "type", "hash", "balances", "proofId", "accountId"))
    path = path_nodes(top, "pathList", _path_entry)
    return Proof(
        self_node=_node(me, allow_empty_hash=False),
        proof_id=me.text("proofId"),
        account_id=me.text("accountId"),
        path=path,
    )


def _balance_text(balances: dict[str, Decimal]) -> str:
    """``calcHashId``'s balance text: TreeMap order, ``stripTrailingZeros().toPlainString()``."""
    return ",".join(f"{a}:{java_strip_plain(balances[a])}" for a in sorted(balances))


def _inner(left: Node, right: Node, type_: int, level: int) -> Node:
    """``createInnerNode``: sum left, then (if the right hash is not blank) defaults + right."""
    balances: dict[str, Decimal] = {}
    for asset, amount in left.balances.items():
        balances[asset] = add(balances.get(asset, Decimal(0)), amount)
    if right.hash.strip():
        for asset in DEFAULT_ASSETS:
            balances.setdefault(asset, Decimal(0))
        for asset, amount in right.balances.items():
            balances[asset] = add(balances.get(asset, Decimal(0)), amount)
    text = _balance_text(balances)
    digest = sha256_hex(f"{left.hash},{right.hash},{text}")[:HASH_HEX]
    return Node(where="computed", level=level, type=type_, hash=digest, balances=balances)


def verify(proof: Proof) -> ForeignReport:
    """Check a MEXC proof exactly as MEXC's validator does, and report.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    report = _report()
    me, path = proof.self_node, proof.path
    report.user_balances = dict(me.texts)
    root = path[-1]
    report.root_balances = dict(root.texts)

    balance_text = ",".join(f"{a}:{me.texts[a]}" for a in sorted(me.texts))
    content = f"{proof.proof_id},{proof.account_id},{balance_text}"
    leaf = sha256_hex(content)[:HASH_HEX]
    report.check(
        "leaf hash",
        leaf == me.hash,
        f"sha256({content!r})[:32] = {leaf}"
        + ("" if leaf == me.hash else f" but self.hash holds {me.hash}"),
    )
    by_level: dict[int, Node] = {}
    duplicated = []
    for node in path:
        if node.level in by_level:
            duplicated.append(node.level)
        by_level[node.level] = node
    # Collectors.toMap throws on a duplicate key: MEXC's tool stops with an exception.
    if not report.check(
        "one path entry per level",
        not duplicated,
        "levels are distinct" if not duplicated else f"level(s) {duplicated} appear twice",
    ):
        return report

    depth = root.level
    cur: Node = me
    pair: tuple[Node, Node] | None = None
    used: set[int] = {depth}
    for i in range(depth):
        sibling = by_level.get(i)
        if sibling is None:
            other = RIGHT if cur.type == LEFT else LEFT
            sibling = Node(where=f"empty level {i}", level=cur.level, type=other, hash="")
        else:
            used.add(i)
        pair = (cur, sibling) if cur.type == LEFT else (sibling, cur)
        above = by_level.get(i + 1)
        parent_type = LEFT if above is None else (RIGHT if above.type == LEFT else LEFT)
        cur = _inner(pair[0], pair[1], parent_type, i + 1)
    if pair is None:
        report.check("path reaches a root", False, f"root level is {depth}; nothing to compute")
        return report
    computed = _inner(pair[0], pair[1], ROOT, depth)
    report.root_hash = computed.hash
    report.check(
        "root hash",
        computed.hash == root.hash,
        f"computed {computed.hash}"
        + (" = root hash" if computed.hash == root.hash else f" but the root holds {root.hash}"),
    )
    unused = [f"pathList[{i}] (level {n.level})" for i, n in enumerate(path) if n.level not in used]
    report.check(
        "every path entry is used",
        not unused,
        f"levels 0..{depth} cover the path"
        if not unused
        else "ignored by the computation: " + ", ".join(unused),
        kind="extra",
    )
    assets = sorted(set(computed.balances) | set(root.balances))
    differ = [
        f"{a}: computed {java_strip_plain(computed.balances.get(a, Decimal(0)))} "
        f"but root holds {root.texts.get(a, '(none)')}"
        for a in assets
        if computed.balances.get(a, Decimal(0)) != root.balances.get(a, Decimal(0))
    ]
    report.check(
        "root balances",
        not differ,
        "the root's published balances equal the computed sums (MEXC's tool does not check this)"
        if not differ
        else "; ".join(differ),
        kind="extra",
    )
    _structure_checks(report, proof)
    negative_balance_checks(report, [(f"{n.where}.balances", n.balances) for n in (me, *path)])
    return report


def _structure_checks(report: ForeignReport, proof: Proof) -> None:
    """Our checks of what MEXC's hash leaves free: types, levels, empty siblings, spelling."""
    me, path = proof.self_node, proof.path
    types = [n.type for n in path]
    node_sides_check(report, "MEXC", ("type", "pathList"), me.type, types, (LEFT, RIGHT), (ROOT,))
    levels = [n.level for n in path]
    expected = list(range(1, path[-1].level + 1))
    ok = me.level == 0 and levels == expected
    report.check(
        "levels run 0 (you), 1, 2, ... to the root",
        ok,
        f"self at 0, pathList at {levels[0]}..{levels[-1]} in order"
        if ok
        else f"self at {me.level}, pathList levels {levels[:8]}; expected self at 0 and "
        f"{expected[:8]}",
        kind="extra",
    )
    below = next((n for n in path if n.level == 0), None)
    if below is not None:
        report.check(
            "your sibling is on the other side",
            below.type != me.type,
            f"self.type {me.type}, level-0 sibling type {below.type}",
            kind="extra",
        )
    loaded = [
        n.where
        for n in path[:-1]
        if not n.hash.strip() and any(v != 0 for v in n.balances.values())
    ]
    report.check(
        "empty siblings hold nothing",
        not loaded,
        "every sibling with an empty hash has zero balances (MEXC adds a left one's balances "
        "and drops a right one's)"
        if not loaded
        else f"empty siblings with balances: {', '.join(loaded)}",
        kind="extra",
    )
    root_assets = sorted(path[-1].balances)
    differ = [f"{n.where} lists {sorted(n.balances)}" for n in path
              if sorted(n.balances) != root_assets]
    report.check(
        "every path entry lists the root's assets",
        not differ,
        f"each lists {', '.join(root_assets)} (a zero entry dropped from a sibling would "
        "otherwise pass)"
        if not differ
        else "; ".join(differ[:5]),
        kind="extra",
    )
    spelling_check(
        report,
        [(f"{n.where}.balances.{a}", n.texts[a], n.balances[a]) for n in path for a in n.texts],
        java_strip_plain,
        "as MEXC prints amounts (stripTrailingZeros().toPlainString())",
    )


def _report() -> ForeignReport:
    return ForeignReport(
        format="mexc",
        exchange="MEXC",
        rule=RULE,
        proven=[
            "a leaf made of the proof id, your account id and these balances lies under the "
            "root hash shown, as far as 128-bit truncated hashes bind (see weaknesses)",
        ],
        not_proven=not_proven(
            "that the root totals are the true sum of all users' balances: sibling balances "
            "are not bound, and MEXC's tool does not even compare the root's balances"
        ),
        weaknesses=[
            Weakness(
                "hashes truncated to 128 bits",
                "every hash is the first 32 hex digits of a SHA-256, so a collision between "
                "two subtrees costs about 2^64 hashes: out of reach for most, but below the "
                "128-bit security a full SHA-256 gives. Our scheme keeps all 256 bits.",
                SRC_OURS + " (mexc-proof-of-reserves SignatureUtil.genHashId, substring(0, 32))",
            ),
            sum_only_weakness("sha256(left ‖ ',' ‖ right ‖ ',' ‖ 'ASSET:sum,...')[:32]"),
            Weakness(
                "the root's balances are not checked",
                "MEXC's tool compares only the root hash; the totals printed in the root are "
                "whatever the file says. We compare them as an extra check.",
                SRC_OURS + " (MerkleProofValidator.java)",
            ),
            Weakness(
                "no salt in the leaf",
                "a leaf is sha256(proofId,accountId,balances): with a sibling leaf's balances "
                "shown in your path and the proof id public, its ~10-digit account id can be "
                "found by trying them all (about 2^33 hashes), which reveals who holds what.",
                SRC_OURS + " (MerkleProofValidator.java)",
            ),
            Weakness(
                "missing levels and empty siblings",
                "any level absent from the path is an empty sibling with hash '' whose "
                "balances are not added; a left sibling with an empty hash still has its "
                "balances added. Path entries at other levels are silently ignored (we fail).",
                SRC_OURS + " (MerkleProofValidator.java)",
            ),
            negative_amounts_weakness("MEXC"),
        ],
    )
