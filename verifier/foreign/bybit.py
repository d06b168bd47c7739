"""Bybit Merkle liability proofs (``{"self": {...}, "path": [...]}`` with ~40 assets).

Reproduces bybit-exchange/merkle-proof ``GenericMerkleTree.validate`` at commit 3f0e2da6,
including its fallback over asset lists (``MerkleProofValidator.validation``): a file
passes if it deserialises under one asset enum and validates under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from verifier.errors import FormatError
from verifier.foreign.parsing import (
    Obj,
    add,
    decimal_string,
    hex_string,
    java_set_scale_down_plain,
    path_nodes,
    proof_object,
    sha256_hex,
)
from verifier.foreign.report import (
    NOT_TRUE_SUM,
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

RULE = (
    "bybit-exchange/merkle-proof @3f0e2da6, GenericMerkleTree.validate with the asset-list "
    "fallback of MerkleProofValidator.validation"
)
SCALE = 8  # every asset in every enum: setScale(8, RoundingMode.DOWN)
# GenericMerkleTree: node types 1 left, 2 right, 3 root.
TYPE_LEFT, TYPE_RIGHT, TYPE_ROOT = 1, 2, 3


@dataclass(frozen=True)
class AssetList:
    """One of Bybit's asset enums: declaration order (the hashing order) and offline assets."""

    name: str
    order: tuple[str, ...]
    offline: tuple[str, ...] = ()

    @property
    def online(self) -> tuple[str, ...]:
        """The assets that are summed into parents (``getBalances()``)."""
        return tuple(a for a in self.order if a not in self.offline)


def _edited(
    base: tuple[str, ...],
    *,
    renamed: dict[str, str] | None = None,
    removed: tuple[str, ...] = (),
    appended: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """An enum's declaration order, written as an edit of another enum's order."""
    renamed = renamed or {}
    return tuple(renamed.get(a, a) for a in base if a not in removed) + appended


# Copied from src/main/java/com/bybit/merkle/generic/Asset*.java, oldest name first. Each
# enum after Asset20 is written as its edit of the one above it (a rename keeps its place in
# the declaration order), so what differs between Bybit's asset lists stands out.
_ASSET20 = (
    "AGLA", "APT", "ATOM", "AVAX", "BIT", "BTC", "BUSD", "DAI", "DOGE", "DOT",
    "DYDX", "EOS", "ETH", "FTM", "LTC", "MATIC", "SOL", "USDC", "USDT", "XRP",
)  # fmt: skip
_ASSET_MNT20 = _edited(_ASSET20, renamed={"BIT": "MNT"})
_ASSET32 = _edited(
    _ASSET_MNT20,
    appended=(
        "SHIB", "OP", "SAND", "LDO", "LINK", "COMP", "UNI", "MANA", "CRV", "BLUR", "SUSHI",
        "PEPE",
    ),
)  # fmt: skip
_ASSET40 = _edited(
    _ASSET32, appended=("WLD", "BEAM", "AGI", "FET", "IMX", "RNDR", "GALA", "APEX", "SHRAP")
)
_ASSET40_V2 = _edited(_ASSET40, removed=("DAI",), renamed={"RNDR": "RENDER"}, appended=("USDE",))
_ASSET40_V3 = _edited(_ASSET40_V2, renamed={"MATIC": "POL"})
_ASSET40_V4 = _edited(_ASSET40_V3, renamed={"FTM": "S"})
_ASSET40_V5 = _edited(_ASSET40_V4, renamed={"EOS": "A"})
_ASSET50 = _edited(
    _ASSET40_V5,
    removed=("BUSD",),
    appended=(
        "GRAM", "XAUT", "HYPE", "STABLE", "ENA", "ARB", "ASTER", "ONDO", "AAVE", "USD1",
    ),
)  # fmt: skip

# In the order MerkleProofValidator.validation tries them.
ASSET_LISTS: tuple[AssetList, ...] = (
    AssetList("Asset50", _ASSET50),
    AssetList("Asset40V5", _ASSET40_V5, offline=("BUSD",)),
    AssetList("Asset40V4", _ASSET40_V4, offline=("BUSD",)),
    AssetList("Asset40V3", _ASSET40_V3, offline=("BUSD",)),
    AssetList("Asset40V2", _ASSET40_V2, offline=("BUSD",)),
    AssetList("Asset40", _ASSET40, offline=("BUSD",)),
    AssetList("Asset32", _ASSET32),
    AssetList("AssetMnt20", _ASSET_MNT20),
    AssetList("Asset20", _ASSET20),
)


@dataclass(frozen=True)
class Node:
    """``self`` or one ``path`` entry; ``balance`` keeps the file's strings and order."""

    where: str
    hash: str
    type: int
    height: int
    balance: dict[str, str]
    values: dict[str, Decimal]
    user_hash: str | None = None


@dataclass(frozen=True)
class Proof:
    """A parsed Bybit proof file."""

    self_node: Node
    path: tuple[Node, ...]


_FIELDS = ("auditId", "height", "type", "nonce", "hash", "balance")


def _node(value: object, where: str, *, is_self: bool) -> Node:
    obj = Obj(value, where)
    if is_self:
        obj.only(("balance", "hash", "type", "userHash"), _FIELDS)
    else:
        obj.only(("balance", "hash", "type", "height"), _FIELDS)
    for optional in ("auditId", "nonce"):
        if obj.has(optional):
            obj.text(optional)
    balance_obj = obj.obj("balance")
    balance: dict[str, str] = {}
    values: dict[str, Decimal] = {}
    for asset, amount in balance_obj.items():
        values[asset] = decimal_string(amount, balance_obj.at(asset))
        balance[asset] = amount
    return Node(
        where=where,
        hash=hex_string(obj.text("hash"), obj.at("hash"), length=64),
        type=obj.integer("type"),
        height=obj.integer("height") if obj.has("height") else 0,
        balance=balance,
        values=values,
        user_hash=obj.text("userHash") if is_self else None,
    )


def parse(data: bytes, where: str = "proof") -> Proof:
    """Parse a Bybit proof file.

    Raises:
        FormatError: not JSON, a missing or unknown field, a bad hash or amount, or a
            balance key that is in none of Bybit's asset lists.
    """
    top = proof_object(data, where, ("self", "path"))
    self_node = _node(top.get("self"), top.at("self"), is_self=True)
    path = path_nodes(top, "path", lambda item, at: _node(item, at, is_self=False))
    proof = Proof(self_node, path)
    if not candidate_lists(proof):
        keys = {k for n in (self_node, *path) for k in n.balance}
        known = {a for lst in ASSET_LISTS for a in lst.order}
        raise FormatError(
            f"{where}: balance keys {sorted(keys - known) or sorted(keys)} fit none of Bybit's "
            f"asset lists ({', '.join(lst.name for lst in ASSET_LISTS)})"
        )
    return proof


def candidate_lists(proof: Proof) -> list[AssetList]:
    """The asset lists under which Jackson would deserialise every balance of ``proof``."""
    keys = {k for n in (proof.self_node, *proof.path) for k in n.balance}
    return [lst for lst in ASSET_LISTS if keys <= set(lst.order)]


def _concat(node: Node, assets: AssetList) -> str:
    """``concatBalances``: the EnumMap's values, i.e. present keys in enum order."""
    return "".join(node.balance[a] for a in assets.order if a in node.balance)


def _valid_balance(node: Node, assets: AssetList) -> str:
    missing = [a for a in assets.online if a not in node.balance]
    return f"{node.where}.balance lacks {', '.join(missing[:5])}" if missing else ""


def _add(a: dict[str, Decimal], b: dict[str, Decimal], assets: AssetList) -> dict[str, str]:
    return {x: java_set_scale_down_plain(add(a[x], b[x]), SCALE) for x in assets.online}


def _path_valid(node: Node, assets: AssetList) -> str:
    """``Path.validate``: balances complete, hash set, type 1..4, height >= 1."""
    why = _valid_balance(node, assets)
    if why:
        return why
    if not 1 <= node.type <= 4:
        return f"{node.where}.type is {node.type}, Bybit allows 1..4"
    if node.height < 1:
        return f"{node.where}.height is {node.height}, Bybit requires >= 1"
    return ""


def check_with(proof: Proof, assets: AssetList) -> ForeignReport:
    """Run ``GenericMerkleTree.validate`` under one asset list and report every check."""
    report = _report()
    me, path = proof.self_node, proof.path
    report.user_balances = dict(me.balance)
    report.root_balances = dict(path[-1].balance)
    report.notes.append(f"asset list {assets.name} ({len(assets.online)} online assets)")

    leaf = sha256_hex(f"{me.user_hash}{_concat(me, assets)}")
    report.check(
        "leaf hash",
        leaf == me.hash,
        f"sha256(userHash + balances in {assets.name} order) = {leaf}"
        + ("" if leaf == me.hash else f" but self.hash holds {me.hash}"),
    )
    first_invalid = _path_valid(path[0], assets)
    report.check(
        "path[0] well formed",
        not first_invalid,
        first_invalid or "balances complete, type and height in range",
    )
    report.check(
        "path[0] on the other side",
        path[0].type != me.type,
        f"self.type {me.type}, path[0].type {path[0].type}"
        + ("" if path[0].type != me.type else ": both on the same side"),
    )
    why = _valid_balance(me, assets)
    report.check(
        "self balances complete", not why, why or f"every {assets.name} online asset present"
    )
    if len(path) < 2:
        report.check("path has a root", False, "path has one entry; Bybit's tool needs path[1]")
        return report
    if why or first_invalid:
        return report  # Bybit's tool stops here (or its Path constructor leaves the node empty)

    left, right = (me.hash, path[0].hash) if me.type == 1 else (path[0].hash, me.hash)
    height = 2
    sums = _add(me.values, path[0].values, assets)
    node_hash = sha256_hex(f"{left}{right}{''.join(sums.values())}{height}")
    malformed: list[str] = []
    bad_padding: list[str] = []
    for i in range(1, len(path) - 1):
        sib = path[i]
        why = _path_valid(sib, assets)
        if why:
            malformed.append(why)
            continue
        if sib.hash == node_hash and (
            sib.type != TYPE_RIGHT or any(v != 0 for v in sib.values.values())
        ):
            # Bybit pads an odd level with a zero-balance copy of the node, on the right;
            # with a copy, the side is otherwise not bound by the hash.
            bad_padding.append(
                f"path[{i}] copies the node it pairs with (padding) but has type {sib.type} "
                "or non-zero balances; padding is type 2 with zero balances"
            )
        left, right = (sib.hash, node_hash) if sib.type == 1 else (node_hash, sib.hash)
        height += 1  # Bybit counts levels itself; the siblings' own heights are not used
        sums = _add({a: Decimal(v) for a, v in sums.items()}, sib.values, assets)
        node_hash = sha256_hex(f"{left}{right}{''.join(sums.values())}{height}")
        # Bybit also gives the node a type from path[i + 1] (3, 2 or 1); it is never hashed.
    report.check(
        "path[1..] well formed",
        not malformed,
        "balances complete, type and height in range" if not malformed else "; ".join(malformed),
    )
    report.check(
        "padding nodes are zero-balance copies on the right",
        not bad_padding,
        "every sibling that copies its pair is type 2 with zero balances"
        if not bad_padding
        else "; ".join(bad_padding[:5]),
        kind="extra",
    )
    root = path[-1]
    report.root_hash = node_hash
    report.check(
        "root hash",
        node_hash == root.hash,
        f"computed {node_hash}"
        + (" = path[-1].hash" if node_hash == root.hash else f" but path[-1] holds {root.hash}"),
    )
    differ = [
        f"{a}: computed {sums.get(a)} but root holds {root.balance.get(a)}"
        for a in dict.fromkeys([*sums, *root.balance])
        if sums.get(a) != root.balance.get(a)
    ]
    report.check(
        "root balances",
        not differ,
        f"all {len(sums)} sums equal the root's strings" if not differ else "; ".join(differ[:5]),
    )
    report.check(
        "root height",
        height == root.height,
        f"computed {height}" + ("" if height == root.height else f" but root holds {root.height}"),
    )
    _structure_checks(report, proof)
    negative_balance_checks(report, [(f"{n.where}.balance", n.values) for n in (me, *path)])
    return report


def _structure_checks(report: ForeignReport, proof: Proof) -> None:
    """Our checks of the fields Bybit's hash does not bind: types, heights, spelling."""
    me, path = proof.self_node, proof.path
    node_sides_check(
        report,
        "Bybit",
        ("type", "path"),
        me.type,
        [n.type for n in path],
        (TYPE_LEFT, TYPE_RIGHT),
        (TYPE_ROOT,),
    )
    bad = [f"path[{i}]: {n.height}" for i, n in enumerate(path) if n.height != i + 1]
    if me.height != 1:
        bad.insert(0, f"self: {me.height} (a leaf is at height 1)")
    report.check(
        "heights run 1, 2, 3, ...",
        not bad,
        "your leaf at 1, each sibling one level above the last (Bybit's tool ignores "
        "these fields; we require them consistent)"
        if not bad
        else "heights out of order: " + ", ".join(bad[:5]),
        kind="extra",
    )
    spelling_check(
        report,
        [
            (f"path[{i}].balance.{a}", text, n.values[a])
            for i, n in enumerate(path)
            for a, text in n.balance.items()
        ],
        lambda v: java_set_scale_down_plain(v, SCALE),
        "as Bybit prints amounts (setScale(8, DOWN).toPlainString(): 8 decimals)",
    )
    unbound_audit_id(report, ("self.auditId", "path[*].auditId"))
    for where in ("self.nonce", "path[*].nonce"):
        report.add_unbound(
            where,
            "a nonce is printed but never hashed: the leaf is sha256(userHash ‖ balances), "
            "and nothing derives userHash from a nonce or your UID",
        )


def verify(proof: Proof) -> ForeignReport:
    """Check a Bybit proof as ``MerkleProofValidator.validation`` does, and report.

    Each asset list under which the file deserialises is tried in Bybit's order; the first
    that validates gives the verdict. If none does, the report of the best candidate (the
    list whose assets match the leaf's keys, else the first) is returned.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    candidates = candidate_lists(proof)
    tried: list[str] = []
    reports: list[tuple[AssetList, ForeignReport]] = []
    for assets in candidates:
        report = check_with(proof, assets)
        tried.append(f"{assets.name}: {report.verdict.lower()}")
        if report.ok:
            report.notes.append("asset lists tried in Bybit's order: " + ", ".join(tried))
            return report
        reports.append((assets, report))
    leaf_keys = set(proof.self_node.balance)
    best = next(
        (r for a, r in reports if set(a.online) <= leaf_keys <= set(a.order)), reports[0][1]
    )
    best.notes.append("asset lists tried in Bybit's order: " + ", ".join(tried))
    return best


def _report() -> ForeignReport:
    return ForeignReport(
        format="bybit",
        exchange="Bybit",
        rule=RULE,
        proven=[
            "a leaf made of the userHash and these balances lies under the root hash shown, "
            "with the root totals shown (assuming SHA-256 is preimage resistant)",
        ],
        not_proven=not_proven(
            "that userHash is derived from your account: the tool never checks it",
            NOT_TRUE_SUM,
        ),
        weaknesses=[
            sum_only_weakness("sha256(left ‖ right ‖ all asset sums concatenated ‖ height)"),
            Weakness(
                "the leaf's link to you is unchecked",
                "the leaf is sha256(userHash ‖ balances); the file also carries a nonce, but "
                "the tool never derives userHash from your UID or nonce, so you must trust "
                "that the userHash is yours and that no other user shares your leaf.",
                SRC_BROKEN_PROOFS + " (identifiers that are not unique)",
            ),
            Weakness(
                "leaf amounts are hashed as published",
                "a leaf concatenates its balance strings with no separator and no fixed "
                "format (only parents are forced to 8 decimals), so the leaf hash does not "
                "fix where one asset's digits end.",
                SRC_OURS,
            ),
            Weakness(
                "the asset list is guessed",
                "the tool tries up to ten asset enums and accepts the file if any one "
                "validates; offline assets (BUSD) are hashed into the leaf but left out of "
                "every sum. The file does not say which list it was built with.",
                SRC_OURS + " (bybit-exchange/merkle-proof MerkleProofValidator.java)",
            ),
            Weakness(
                "sibling heights and negative amounts are not checked",
                "levels are counted by the tool, but each sibling's own height is ignored, "
                "and a negative sibling balance is accepted; we warn on negative amounts and "
                "require heights 1, 2, 3, ...",
                SRC_NEGATIVE,
            ),
        ],
    )
