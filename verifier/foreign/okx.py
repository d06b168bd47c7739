"""OKX Merkle liability proofs, v1 (user path) and v2 (user info + full tree file).

Reproduces okx/proof-of-reserves ``common/merkle.go`` (v1) and ``common/merklev2.go`` +
``common/validator.go`` (v2) as published at commit 2962a895; for v2 it also recomputes
the internal nodes of the full tree, which OKX's own tool does not do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from verifier.errors import FormatError
from verifier.foreign.parsing import (
    Obj,
    add,
    decimal_string,
    go_decimal_string,
    go_round_down,
    hex_string,
    lines_of,
    load_json,
    path_nodes,
    proof_object,
    sha256_hex,
)
from verifier.foreign.report import (
    NOT_TRUE_SUM,
    NOT_YOURS_ALONE,
    SRC_BROKEN_PROOFS,
    SRC_NEGATIVE,
    SRC_OURS,
    ForeignReport,
    Weakness,
    allowed_values_check,
    negative_balance_checks,
    not_proven,
    spelling_check,
    sum_only_weakness,
    unbound_audit_id,
)

ASSETS = ("BTC", "ETH", "USDT")
RULE_V1 = "okx/proof-of-reserves @2962a895, common/merkle.go (MerkleProof.Validate)"
RULE_V2 = (
    "okx/proof-of-reserves @2962a895, common/merklev2.go (SelfInfo.Check) and "
    "common/validator.go (FindUserLeafNodesCountInMerkle)"
)

CONCATENATION_WEAKNESS = Weakness(
    "amounts concatenated without separators",
    "a parent hashes BTC, ETH and USDT sums (and the height) as decimal text run together, "
    "so the hash does not fix where one amount ends: BTC=1, ETH=23 and BTC=12, ETH=3 give "
    "the same preimage. Our scheme hashes fixed-width 128-bit amounts.",
    SRC_OURS + " (tests/foreign/test_foreign_samples.py shows a colliding pair)",
)
NO_USER_ID_WEAKNESS = Weakness(
    "the leaf does not name the user",
    "a leaf is sha256(nonce + balances); nothing ties it to your account, so two users "
    "with equal balances can be handed the same leaf and nonce, and one leaf then stands "
    "for two liabilities. Our commitment hashes the round, the user id and a per-round salt.",
    SRC_BROKEN_PROOFS + " (identifiers that are not unique)",
)
# OKX common/merkle.go: node types. 1 left, 2 right, 3 root, 4 padding (a copy of the node
# it pairs with, zero balances).
TYPE_LEFT, TYPE_RIGHT, TYPE_ROOT, TYPE_PADDING = 1, 2, 3, 4


@dataclass(frozen=True)
class Balances:
    """OKX's three-asset balance struct: the published strings and their exact values."""

    text: tuple[str, str, str]
    value: tuple[Decimal, Decimal, Decimal]

    def as_dict(self) -> dict[str, str]:
        """Return {asset: published string}."""
        return dict(zip(ASSETS, self.text, strict=True))

    def go_json(self) -> str:
        """Go ``json.Marshal`` of the struct (fields in declaration order, values quoted)."""
        return "{" + ",".join(f'"{a}":"{t}"' for a, t in zip(ASSETS, self.text, strict=True)) + "}"

    def concat(self) -> str:
        """The three strings run together, as the node hashes use them."""
        return "".join(self.text)

    def go_add(self, other: Balances) -> Balances:
        """``Balances.Add``: exact sum, ``RoundDown(8)``, printed with ``Decimal.String()``."""
        values = tuple(
            go_round_down(add(a, b), 8) for a, b in zip(self.value, other.value, strict=True)
        )
        v = (values[0], values[1], values[2])
        return Balances(
            (go_decimal_string(v[0]), go_decimal_string(v[1]), go_decimal_string(v[2])), v
        )

    @staticmethod
    def zero() -> Balances:
        """The all-zero balances (what OKX's tool starts its sums from)."""
        z = Decimal(0)
        return Balances(("0", "0", "0"), (z, z, z))

    @staticmethod
    def parse(value: object, where: str) -> Balances:
        """Read ``{"BTC": "..", "ETH": "..", "USDT": ".."}``.

        Raises:
            FormatError: not exactly these three keys, or an amount is not a decimal string.
        """
        obj = Obj(value, where)
        obj.only(ASSETS)
        text = (obj.text("BTC"), obj.text("ETH"), obj.text("USDT"))
        values = (
            decimal_string(text[0], obj.at("BTC")),
            decimal_string(text[1], obj.at("ETH")),
            decimal_string(text[2], obj.at("USDT")),
        )
        return Balances(text, values)


# ----------------------------------------------------------------------------- v1


@dataclass(frozen=True)
class V1Node:
    """One element of a v1 proof (``self`` or a ``path`` entry)."""

    where: str
    hash: str
    type: int
    height: int
    balances: Balances
    nonce: str | None


@dataclass(frozen=True)
class V1Proof:
    """A parsed OKX v1 Merkle proof file."""

    self_node: V1Node
    path: tuple[V1Node, ...]


_V1_FIELDS = ("auditId", "balances", "type", "nonce", "hash", "height")


def _v1_node(value: object, where: str, *, is_self: bool) -> V1Node:
    obj = Obj(value, where)
    required = ("balances", "type", "hash", "nonce") if is_self else ("balances", "type", "hash")
    obj.only(required, _V1_FIELDS)
    if obj.has("auditId"):
        obj.text("auditId")
    nonce = obj.text("nonce") if obj.has("nonce") else None
    return V1Node(
        where=where,
        hash=hex_string(obj.text("hash"), obj.at("hash"), length=64),
        type=obj.integer("type"),
        height=obj.integer("height") if obj.has("height") else 0,
        balances=Balances.parse(obj.get("balances"), obj.at("balances")),
        nonce=nonce,
    )


def parse_v1(data: bytes, where: str = "proof") -> V1Proof:
    """Parse an OKX v1 Merkle proof file (``{"self": {...}, "path": [...]}``).

    Raises:
        FormatError: not JSON, a missing or unknown field, a bad hash or amount.
    """
    top = proof_object(data, where, ("self", "path"))
    self_node = _v1_node(top.get("self"), top.at("self"), is_self=True)
    path = path_nodes(top, "path", lambda item, at: _v1_node(item, at, is_self=False))
    return V1Proof(self_node, path)


def _v1_parent(
    left: str, right: str, a: Balances, b: Balances, height: int
) -> tuple[str, Balances]:
    """``NewPath``: sha256(left ‖ right ‖ sumBTC ‖ sumETH ‖ sumUSDT ‖ height)."""
    total = a.go_add(b)
    return sha256_hex(f"{left}{right}{total.concat()}{height}"), total


def _v1_path_valid(node: V1Node) -> tuple[bool, str]:
    """``Path.Validate``: type in 1..4 and height >= 1 (balances and hash already parsed)."""
    if not 1 <= node.type <= 4:
        return False, f"{node.where}.type is {node.type}, OKX allows 1..4"
    if node.height < 1:
        return False, f"{node.where}.height is {node.height}, OKX requires >= 1"
    return True, ""


def verify_v1(proof: V1Proof) -> ForeignReport:
    """Check an OKX v1 proof exactly as ``MerkleProof.Validate`` does, and report.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    report = _v1_report()
    me, path = proof.self_node, proof.path
    report.user_balances = me.balances.as_dict()
    root = path[-1]
    report.root_balances = root.balances.as_dict()

    leaf = sha256_hex(f"{me.nonce}{me.balances.go_json()}")
    report.check(
        "leaf hash",
        leaf == me.hash,
        f"sha256(nonce + {me.balances.go_json()}) = {leaf}"
        + ("" if leaf == me.hash else f" but self.hash holds {me.hash}"),
    )
    ok, why = _v1_path_valid(path[0])
    report.check("path[0] well formed", ok, why or "type and height in range")
    report.check(
        "path[0] on the other side",
        path[0].type != me.type,
        f"self.type {me.type}, path[0].type {path[0].type}"
        + ("" if path[0].type != me.type else ": both on the same side"),
    )

    left, right = (me.hash, path[0].hash) if me.type == 1 else (path[0].hash, me.hash)
    node_hash, node_bal = _v1_parent(left, right, me.balances, path[0].balances, 2)
    node_height = 2
    malformed: list[str] = []
    bad_padding: list[str] = []
    for i in range(1, len(path) - 1):
        sib = path[i]
        previous_hash = node_hash
        ok, why = _v1_path_valid(sib)
        if not ok:
            malformed.append(why)
        left, right = (sib.hash, node_hash) if sib.type == 1 else (node_hash, sib.hash)
        node_height = sib.height + 1  # OKX takes the height from the sibling's own field
        node_hash, node_bal = _v1_parent(left, right, node_bal, sib.balances, node_height)
        zero = all(v == 0 and t == "0" for v, t in zip(sib.balances.value, sib.balances.text,
                                                      strict=True))
        is_copy = sib.hash == previous_hash and zero
        if sib.type == TYPE_PADDING and not is_copy:
            bad_padding.append(
                f"path[{i}] is type 4 (padding) but is not a zero-balance copy of the node "
                "it pairs with"
            )
        elif sib.type != TYPE_PADDING and sib.hash == previous_hash:
            bad_padding.append(
                f"path[{i}] copies the node it pairs with but is typed {sib.type}, not 4"
            )

    sides = (TYPE_LEFT, TYPE_RIGHT)
    allowed_values_check(
        report,
        "node types are ones OKX defines",
        [("self.type", me.type, sides), ("path[0].type", path[0].type, sides)]
        + [
            (f"path[{i}].type", n.type, (*sides, TYPE_PADDING))
            for i, n in enumerate(path[1:-1], start=1)
        ]
        + [(f"path[{len(path) - 1}].type", root.type, (TYPE_ROOT,))],
    )
    report.check(
        "padding nodes are copies with zero balances",
        not bad_padding,
        "every type-4 node copies the node it pairs with and holds zero balances, and no "
        "other sibling does"
        if not bad_padding
        else "; ".join(bad_padding[:5]),
        kind="extra",
    )
    _v1_sibling_leaf(report, path[0])
    stray = [f"path[{i}]" for i, n in enumerate(path) if i and n.nonce is not None]
    report.check(
        "only leaves carry a nonce",
        not stray,
        "no internal node has a nonce" if not stray else f"{', '.join(stray)} carry a nonce",
        kind="extra",
    )
    spelling_check(
        report,
        [
            (f"path[{i}].balances.{a}", t, v)
            for i, n in enumerate(path)
            for a, t, v in zip(ASSETS, n.balances.text, n.balances.value, strict=True)
        ],
        go_decimal_string,
        "as OKX prints decimals (shopspring Decimal.String(): no trailing zeros, no '-0')",
    )
    unbound_audit_id(report, ("self.auditId", "path[*].auditId"))
    report.check(
        "path[1..] well formed",
        not malformed,
        "every sibling has type 1..4 and height >= 1" if not malformed else "; ".join(malformed),
    )
    report.root_hash = node_hash
    report.check(
        "root hash",
        node_hash == root.hash,
        f"computed {node_hash}"
        + (" = path[-1].hash" if node_hash == root.hash else f" but path[-1] holds {root.hash}"),
    )
    report.check(
        "root balances",
        node_bal.text == root.balances.text,
        f"computed {node_bal.as_dict()}"
        + (
            ""
            if node_bal.text == root.balances.text
            else f" but root holds {root.balances.as_dict()}"
        ),
    )
    report.check(
        "root height",
        node_height == root.height,
        f"computed {node_height}"
        + ("" if node_height == root.height else f" but root holds {root.height}"),
    )
    bad_heights = [f"path[{i}]: {n.height}" for i, n in enumerate(path) if n.height != i + 1]
    if me.height != 1:
        bad_heights.insert(0, f"self: {me.height} (a leaf is at height 1)")
    report.check(
        "path heights run 1, 2, 3, ...",
        not bad_heights,
        "your leaf at 1, each sibling one level above the last"
        if not bad_heights
        else "out of order, so the tree depth is whatever the file says: "
        + ", ".join(bad_heights[:5]),
        kind="extra",
    )
    negative_balance_checks(
        report,
        [("self.balances", dict(zip(ASSETS, me.balances.value, strict=True)))]
        + [
            (f"path[{i}].balances", dict(zip(ASSETS, n.balances.value, strict=True)))
            for i, n in enumerate(path)
        ],
    )
    return report


def _v1_sibling_leaf(report: ForeignReport, sibling: V1Node) -> None:
    """Our check: path[0] is a leaf; with its nonce given, its hash must recompute."""
    if sibling.nonce is None:
        report.add_unbound(
            "path[0].nonce",
            "absent: without the sibling leaf's nonce its hash path[0].hash is taken as "
            "published",
        )
        return
    leaf = sha256_hex(f"{sibling.nonce}{sibling.balances.go_json()}")
    report.check(
        "path[0] leaf hash",
        leaf == sibling.hash,
        f"sha256(path[0].nonce + balances) = {leaf}"
        + ("" if leaf == sibling.hash else f" but path[0].hash holds {sibling.hash}"),
        kind="extra",
    )


def _v1_report() -> ForeignReport:
    return ForeignReport(
        format="okx-v1",
        exchange="OKX",
        rule=RULE_V1,
        proven=[
            "a leaf made of your nonce and these BTC/ETH/USDT balances lies under the root hash "
            "shown, with the root totals shown (assuming SHA-256 is preimage resistant)",
        ],
        not_proven=not_proven(NOT_TRUE_SUM, NOT_YOURS_ALONE),
        weaknesses=[
            sum_only_weakness("sha256(left ‖ right ‖ sumBTC ‖ sumETH ‖ sumUSDT ‖ height)"),
            CONCATENATION_WEAKNESS,
            NO_USER_ID_WEAKNESS,
            Weakness(
                "heights come from the path itself",
                "each parent's height is the sibling's own 'height' field plus one, so the "
                "depth the root claims is not counted by the verifier; nothing in the proof "
                "says how many leaves the tree has. We require heights 1, 2, 3, ... and the "
                "types OKX defines.",
                SRC_OURS + " (okx/proof-of-reserves common/merkle.go)",
            ),
            Weakness(
                "negative amounts and padding are not checked",
                "OKX's tool accepts a negative sibling balance and never checks that a type-4 "
                "padding node is empty; we warn on negative amounts and require padding to be "
                "a zero-balance copy.",
                SRC_NEGATIVE,
            ),
            Weakness(
                "only three assets",
                "the proof covers BTC, ETH and USDT only; liabilities in other assets are not "
                "in this tree.",
                SRC_OURS,
            ),
        ],
    )


# ----------------------------------------------------------------------------- v2


@dataclass(frozen=True)
class V2UserNode:
    """One of the user's leaves listed in the v2 user info file."""

    where: str
    hash: str
    balances: Balances


@dataclass(frozen=True)
class V2UserInfo:
    """A parsed OKX v2 user info file."""

    hash: str
    nonce: str
    total: Balances
    nodes: tuple[V2UserNode, ...]


@dataclass(frozen=True)
class V2TreeLine:
    """One line ``hash,height,{balances}`` of the v2 full liabilities tree file."""

    line: int
    hash: str
    height: int
    balances: Balances


def parse_v2_user(data: bytes, where: str = "user info") -> V2UserInfo:
    """Parse an OKX v2 user info file.

    Raises:
        FormatError: not JSON, a missing or unknown field, a bad hash or amount.
    """
    top = proof_object(data, where, ("hash", "nodes", "nonce", "totalBalances"))
    nodes = []
    for i, item in enumerate(top.array("nodes")):
        node = Obj(item, f"{where}.nodes[{i}]")
        node.only(("balances", "hash"), ("height", "type"))
        nodes.append(
            V2UserNode(
                where=node.where,
                hash=hex_string(node.text("hash"), node.at("hash"), length=64),
                balances=Balances.parse(node.get("balances"), node.at("balances")),
            )
        )
    return V2UserInfo(
        hash=hex_string(top.text("hash"), top.at("hash"), length=64),
        nonce=top.text("nonce"),
        total=Balances.parse(top.get("totalBalances"), top.at("totalBalances")),
        nodes=tuple(nodes),
    )


def parse_v2_tree(data: bytes, where: str = "tree file") -> tuple[V2TreeLine, ...]:
    """Parse an OKX v2 full liabilities tree file (one ``hash,height,{json}`` per line).

    Raises:
        FormatError: a line that is not ``64 hex,positive integer,{BTC,ETH,USDT}``.
    """
    out = []
    for n, line in enumerate(lines_of(data, where), start=1):
        at = f"{where} line {n}"
        parts = line.split(",", 2)
        if len(parts) != 3:
            raise FormatError(f"{at}: expected 'hash,height,{{balances}}', found {line[:60]!r}")
        digest, height_text, balances_json = parts
        if not height_text.isdigit() or len(height_text) > 4 or int(height_text) < 1:
            raise FormatError(f"{at}: height must be a positive integer, found {height_text!r}")
        out.append(
            V2TreeLine(
                line=n,
                hash=hex_string(digest, f"{at} hash", length=64),
                height=int(height_text),
                balances=Balances.parse(load_json(balances_json.encode(), at), f"{at} balances"),
            )
        )
    if not out:
        raise FormatError(f"{where}: empty")
    return tuple(out)


def _v2_report(with_tree: bool) -> ForeignReport:
    report = ForeignReport(
        format="okx-v2",
        exchange="OKX",
        rule=RULE_V2,
        proven=[
            "your user info file is self-consistent: its leaves hash from your user hash, and "
            "your user hash from your nonce and total balances",
        ],
        not_proven=not_proven(),
        weaknesses=[
            Weakness(
                "the full tree is public",
                "every leaf's BTC/ETH/USDT balances are published in the clear, so anyone can "
                "read the distribution of all users' balances (and follow large, stable leaves "
                "from one audit to the next). Our scheme publishes only per-user paths.",
                "https://hackmd.io/@JI2FtqawSzO-olUw-r48DQ/SyHNempt3 (subset-sum re-linking "
                "of split leaves in public Maxwell++ trees)",
            ),
            Weakness(
                "OKX's tool does not recompute the tree",
                "it only looks for your leaves among the height-1 lines and sums those lines; "
                "the internal nodes and the root could be anything. We recompute them when "
                "given the tree file (a layout we reconstructed: levels listed root first, "
                "right to left, an odd level padded with a zero-balance copy of its last node).",
                SRC_OURS + " (okx/proof-of-reserves common/validator.go)",
            ),
            sum_only_weakness(
                "sha256(left ‖ right ‖ sumBTC ‖ sumETH ‖ sumUSDT ‖ height) (mitigated only "
                "when the whole tree is recomputed, as we do)"
            ),
            CONCATENATION_WEAKNESS,
            Weakness(
                "leaves do not bind their position",
                "a leaf is sha256(userHash ‖ BTC ‖ ETH ‖ USDT) with no height, index or tag, "
                "and your balance is split over several leaves that only your file links.",
                SRC_OURS,
            ),
        ],
    )
    if with_tree:
        report.proven.append(
            "each of your leaves appears at height 1 of the tree file with the same balances"
        )
        report.proven.append(
            "every internal node of the tree file hashes from its two children and holds "
            "their sum, up to the single root shown (our recomputation)"
        )
    else:
        report.notes.append(
            "no tree file given: only your user info file was checked; nothing links it to a "
            "root. Pass the full liabilities tree file as the second FILE."
        )
        report.not_proven.insert(0, "that your leaves are in the published tree (no tree file)")
    return report


def verify_v2(user: V2UserInfo, tree: Sequence[V2TreeLine] | None) -> ForeignReport:
    """Check an OKX v2 user info file (and the tree file, if given) and report.

    The exchange rule is ``SelfInfo.Check`` then ``FindUserLeafNodesCountInMerkle``; the
    internal-node recomputation is our extra check.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    report = _v2_report(tree is not None)
    report.user_balances = user.total.as_dict()
    for name in ("height", "type"):
        report.add_unbound(
            f"nodes[*].{name}",
            "printed in some user info files but hashed nowhere and not used by OKX's tool",
        )
    report.check("user info lists leaves", bool(user.nodes), f"{len(user.nodes)} leaf/leaves")
    for node in user.nodes:
        got = sha256_hex(f"{user.hash}{node.balances.concat()}")
        ok = got.lower() == node.hash.lower()  # strings.EqualFold
        report.check(
            f"{node.where} hash",
            ok,
            f"sha256(hash ‖ {' ‖ '.join(node.balances.text)}) = {got}"
            + ("" if ok else f" but the file holds {node.hash}"),
        )
    user_hash = sha256_hex(f"{user.nonce}{user.total.go_json()}")
    ok = user_hash.lower() == user.hash.lower()
    report.check(
        "user hash",
        ok,
        f"sha256(nonce + {user.total.go_json()}) = {user_hash}"
        + ("" if ok else f" but the file holds {user.hash}"),
    )
    if user.nodes:
        total = user.nodes[0].balances
        for node in user.nodes[1:]:
            total = total.go_add(node.balances)
        ok = total.text == user.total.text
        report.check(
            "leaves sum to totalBalances",
            ok,
            f"sum {total.as_dict()}"
            + ("" if ok else f" but totalBalances is {user.total.as_dict()}"),
        )
    balances_to_check = [("totalBalances", dict(zip(ASSETS, user.total.value, strict=True)))]
    balances_to_check += [
        (n.where, dict(zip(ASSETS, n.balances.value, strict=True))) for n in user.nodes
    ]
    if tree is not None:
        _v2_find_user_leaves(report, user, tree)
        _v2_recompute_tree(report, tree)
        spelling_check(
            report,
            [
                (f"tree line {t.line} {a}", text, value)
                for t in tree
                for a, text, value in zip(ASSETS, t.balances.text, t.balances.value, strict=True)
            ],
            go_decimal_string,
            "as OKX prints decimals (shopspring Decimal.String())",
        )
        balances_to_check += [
            (f"tree line {t.line}", dict(zip(ASSETS, t.balances.value, strict=True))) for t in tree
        ]
    negative_balance_checks(report, balances_to_check)
    return report


def _v2_find_user_leaves(
    report: ForeignReport, user: V2UserInfo, tree: Sequence[V2TreeLine]
) -> None:
    """``FindUserLeafNodesCountInMerkle`` and the count test of ``execV2``."""
    count = 0
    found: set[str] = set()
    everyone = Balances.zero()
    for line in tree:
        if line.height != 1:
            continue
        everyone = everyone.go_add(line.balances)
        match = next((n for n in user.nodes if n.hash.lower() == line.hash.lower()), None)
        if match is None:
            continue
        if line.hash == match.hash and line.balances.text == match.balances.text:
            count += 1
            found.add(match.hash)
    missing = [n.hash for n in user.nodes if n.hash not in found]
    report.check(
        "your leaves are in the tree file",
        count == len(user.nodes),
        f"{count} of {len(user.nodes)} found at height 1 with equal balances"
        + ("" if not missing else "; not found: " + ", ".join(missing)),
    )
    report.notes.append(
        "total of all height-1 lines (what OKX's tool reports as total liabilities): "
        + ", ".join(f"{a} {t}" for a, t in everyone.as_dict().items())
    )


def _v2_recompute_tree(report: ForeignReport, tree: Sequence[V2TreeLine]) -> None:
    """Our extra check: rebuild every internal node of the v2 tree file up to the root."""
    levels: dict[int, list[V2TreeLine]] = {}
    for line in tree:
        levels.setdefault(line.height, []).append(line)
    top = max(levels)
    missing = [h for h in range(1, top + 1) if h not in levels]
    if missing or len(levels[top]) != 1:
        report.check(
            "tree file recomputes to one root",
            False,
            f"heights {missing} absent"
            if missing
            else f"{len(levels[top])} lines at the top height {top}",
            kind="extra",
        )
        return
    root = levels[top][0]
    report.root_hash = root.hash
    report.root_balances = root.balances.as_dict()
    problems: list[str] = []
    for h in range(1, top):
        children = levels[h][::-1]  # the file lists each level right to left
        parents = levels[h + 1][::-1]
        if len(children) % 2:
            problems.append(f"height {h}: {len(children)} nodes, an odd count cannot pair up")
            break
        n = len(children) // 2
        padded = n % 2 == 1 and h + 1 < top
        if len(parents) != n + (1 if padded else 0):
            problems.append(
                f"height {h + 1}: expected {n + (1 if padded else 0)} nodes for {len(children)} "
                f"children, found {len(parents)}"
            )
            break
        if padded:
            pad, last = parents[n], parents[n - 1]
            if pad.hash != last.hash or any(v != 0 for v in pad.balances.value):
                problems.append(
                    f"line {pad.line}: padding should be a zero-balance copy of line {last.line}"
                )
        for j in range(n):
            left, right, parent = children[2 * j], children[2 * j + 1], parents[j]
            expected = sha256_hex(
                f"{left.hash}{right.hash}{parent.balances.concat()}{parent.height}"
            )
            if expected != parent.hash:
                problems.append(
                    f"line {parent.line}: computed hash {expected[:16]}.. from lines "
                    f"{left.line} and {right.line} but the line holds {parent.hash[:16]}.."
                )
            total = left.balances.go_add(right.balances)
            if total.text != parent.balances.text:
                problems.append(
                    f"line {parent.line}: children sum to {total.as_dict()} but the line "
                    f"holds {parent.balances.as_dict()}"
                )
    report.check(
        "tree file recomputes to one root",
        not problems,
        f"{len(tree)} lines, {top} levels, every internal node hashes from its children and "
        f"holds their sum, root {root.hash}"
        if not problems
        else "; ".join(problems[:5])
        + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
        kind="extra",
    )
