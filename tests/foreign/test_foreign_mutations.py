"""Named mutations of every published sample must fail verification (exit 1, not 2), and
every field of every sample, mutated every way, must fail or be reported as unbound.

Each mutation stands for an attack (an inflated balance, a forged sibling, a dropped level,
a flipped side, a moved root, ...); the file stays well formed, so the verdict must be
FAILED rather than MALFORMED. The unmutated file is checked to pass first (or, for
CoinEx's published rule, to fail for its known reason), so a mutation cannot pass
vacuously.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main
from verifier.cli.foreign import verify_files
from verifier.errors import FormatError
from verifier.foreign.parsing import load_json

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"

Mutation = Callable[[Any], None]


def dump(value: Any) -> str:
    """JSON text that writes Decimal amounts as JSON numbers with their exact digits."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def flip_hex(h: str) -> str:
    return ("1" if h[0] != "1" else "2") + h[1:]


def bump(amount: Any) -> Any:
    """Add one unit in the last place, keeping the JSON type (string or number)."""
    d = Decimal(amount)
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    bumped = d + Decimal(1).scaleb(min(exponent, 0))
    return format(bumped, "f") if isinstance(amount, str) else bumped


def first_nonzero(balances: dict[str, Any]) -> str:
    return next(a for a, v in balances.items() if Decimal(v) != 0)


def flip_side(node: dict[str, Any], key: str = "type") -> None:
    node[key] = 2 if node[key] == 1 else 1


# ---------------------------------------------------------------- OKX v1 / Bybit / Bitget


def okx_v1_mutations() -> dict[str, Mutation]:
    def bal(d: Any) -> dict[str, Any]:
        return d

    return {
        "inflated_own_balance": lambda d: bal(d["self"]["balances"]).update(
            BTC=bump(d["self"]["balances"]["BTC"])
        ),
        "forged_sibling_hash": lambda d: d["path"][3].update(hash=flip_hex(d["path"][3]["hash"])),
        "understated_sibling_balance": lambda d: d["path"][2]["balances"].update(USDT="0"),
        "dropped_level": lambda d: d["path"].pop(5),
        "flipped_sibling_side": lambda d: flip_side(d["path"][4]),
        "self_on_sibling_side": lambda d: d["self"].update(type=d["path"][0]["type"]),
        "inflated_root_total": lambda d: d["path"][-1]["balances"].update(
            BTC=bump(d["path"][-1]["balances"]["BTC"])
        ),
        "swapped_root_hash": lambda d: d["path"][-1].update(hash=flip_hex(d["path"][-1]["hash"])),
        "wrong_root_height": lambda d: d["path"][-1].update(height=d["path"][-1]["height"] + 1),
        "forged_sibling_height": lambda d: d["path"][3].update(height=d["path"][3]["height"] + 1),
        "sibling_type_out_of_range": lambda d: d["path"][2].update(type=7),
    }


def mid_sibling(d: Any, key: str = "balance") -> dict[str, Any]:
    """A sibling strictly between path[0] and the root that holds a non-zero balance."""
    path = d["path"]
    return next(n for n in path[1:-1] if any(Decimal(v) != 0 for v in n[key].values()))


def bybit_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balance"].update(
            BTC=bump(d["self"]["balance"]["BTC"])
        ),
        "forged_user_hash": lambda d: d["self"].update(userHash=flip_hex(d["self"]["userHash"])),
        "forged_sibling_hash": lambda d: d["path"][1].update(hash=flip_hex(d["path"][1]["hash"])),
        "understated_sibling_balance": lambda d: mid_sibling(d)["balance"].update(
            {first_nonzero(mid_sibling(d)["balance"]): "0.00000000"}
        ),
        "dropped_level": lambda d: d["path"].pop(1),
        "flipped_sibling_side": lambda d: flip_side(mid_sibling(d)),
        "self_on_sibling_side": lambda d: d["self"].update(type=d["path"][0]["type"]),
        "inflated_root_total": lambda d: d["path"][-1]["balance"].update(
            BTC=bump(d["path"][-1]["balance"]["BTC"])
        ),
        # Java prints sums with exactly 8 decimals; the same value spelt otherwise must fail.
        "root_total_printed_with_other_scale": lambda d: d["path"][-1]["balance"].update(
            AGLA=d["path"][-1]["balance"]["AGLA"] + "0"
        ),
        "root_lists_an_extra_asset": lambda d: d["path"][-1]["balance"].update(BUSD="0.00000000"),
        "swapped_root_hash": lambda d: d["path"][-1].update(hash=flip_hex(d["path"][-1]["hash"])),
        "wrong_root_height": lambda d: d["path"][-1].update(height=d["path"][-1]["height"] + 1),
        "missing_online_asset_in_sibling": lambda d: d["path"][1]["balance"].pop("ETH"),
    }


def bitget_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balances"].update(
            USDT=bump(d["self"]["balances"]["USDT"])
        ),
        "forged_encrypted_uid": lambda d: d["self"].update(
            encryptUid=flip_hex(d["self"]["encryptUid"])
        ),
        "forged_sibling_leaf": lambda d: d["path"][3].update(
            merkelLeaf=flip_hex(d["path"][3]["merkelLeaf"])
        ),
        "understated_sibling_balance": lambda d: mid_sibling(d, "balances")["balances"].update(
            {
                first_nonzero(mid_sibling(d, "balances")["balances"]): "0"
                if isinstance(d["self"]["balances"]["BTC"], str)
                else Decimal(0)
            }
        ),
        "dropped_level": lambda d: d["path"].pop(3),
        "flipped_sibling_side": lambda d: flip_side(d["path"][3], "role"),
        "self_on_sibling_side": lambda d: d["self"].update(role=d["path"][0]["role"]),
        "inflated_root_total": lambda d: d["path"][-1]["balances"].update(
            BTC=bump(d["path"][-1]["balances"]["BTC"])
        ),
        "swapped_root_leaf": lambda d: d["path"][-1].update(
            merkelLeaf=flip_hex(d["path"][-1]["merkelLeaf"])
        ),
        "wrong_root_level": lambda d: d["path"][-1].update(level=2),
    }


def mexc_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balances"].update(ETH="195462.74"),
        "forged_account_id": lambda d: d["self"].update(accountId="1745297674"),
        "forged_sibling_hash": lambda d: d["pathList"][1].update(
            hash=flip_hex(d["pathList"][1]["hash"])
        ),
        "understated_sibling_balance": lambda d: d["pathList"][2]["balances"].update(BTC="0"),
        "dropped_level": lambda d: d["pathList"].pop(1),
        "flipped_sibling_side": lambda d: flip_side(d["pathList"][1]),
        "flipped_empty_sibling_side": lambda d: flip_side(d["pathList"][0]),
        "duplicated_level": lambda d: d["pathList"].insert(1, dict(d["pathList"][1])),
        "inflated_root_total": lambda d: d["pathList"][-1]["balances"].update(BTC="4386831.38"),
        "swapped_root_hash": lambda d: d["pathList"][-1].update(
            hash=flip_hex(d["pathList"][-1]["hash"])
        ),
        "sibling_at_unused_level": lambda d: d["pathList"].insert(
            0, {**d["pathList"][1], "level": 9}
        ),
    }


def coinex_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balances"].update(USDT="374.250574"),
        "forged_sibling_hash": lambda d: d["path"][3].update(hash=flip_hex(d["path"][3]["hash"])),
        "understated_sibling_balance": lambda d: d["path"][4]["balances"].update(BTC="0"),
        "dropped_level": lambda d: d["path"].pop(3),
        "dropped_empty_level": lambda d: d["path"].pop(0),
        "flipped_sibling_side": lambda d: d["path"][4].update(pos="right"),
        "inflated_root_total": lambda d: d["root"]["balances"].update(CET="14442925.91120210"),
        "root_drops_an_asset": lambda d: d["root"]["balances"].pop("CET"),
        "swapped_root_hash": lambda d: d["root"].update(hash=flip_hex(d["root"]["hash"])),
    }


CASES: list[tuple[str, str, str, Mutation]] = [
    *[
        ("okx-v1", "okx/example_merkle_proof_file.json", n, m)
        for n, m in okx_v1_mutations().items()
    ],
    *[
        ("bybit", f"bybit/{f}", n, m)
        for f in ("mock_user_merkle_tree_path_40.json", "mock_user_merkle_tree_path_40_v5.json")
        for n, m in bybit_mutations().items()
    ],
    *[
        ("bitget", f"bitget/{f}", n, m)
        for f in ("merkel_tree_bg.json", "merkel_tree_bg.6863e2d.json")
        for n, m in bitget_mutations().items()
    ],
    *[("mexc", "mexc/merkle_proof.json", n, m) for n, m in mexc_mutations().items()],
    *[
        (fmt, "coinex/merkle_proof_file.json", n, m)
        for fmt in ("coinex-variant-single-hash",)
        for n, m in coinex_mutations().items()
    ],
]


@pytest.mark.parametrize(
    ("fmt", "rel", "name", "mutate"), CASES, ids=[f"{c[0]}:{Path(c[1]).stem}:{c[2]}" for c in CASES]
)
def test_mutation_fails_verification(
    fmt: str, rel: str, name: str, mutate: Mutation, tmp_path: Path
) -> None:
    original = DATA / rel
    assert verify_files(fmt, [original]).ok, "the unmutated sample must pass"
    doc = load_json(original.read_bytes(), rel)
    mutate(doc)
    mutated = tmp_path / f"{name}.json"
    mutated.write_text(dump(doc))
    report = verify_files(fmt, [mutated])  # well formed: parses without FormatError
    assert not report.ok, f"{name} verified:\n{report.render_text()}"


@pytest.mark.parametrize("fmt", ["okx-v1", "bybit", "bitget", "mexc", "coinex-variant-single-hash"])
def test_cli_exit_1_for_a_forged_proof(fmt: str, tmp_path: Path) -> None:
    rel, name, mutate = next((c[1], c[2], c[3]) for c in CASES if c[0] == fmt)
    doc = load_json((DATA / rel).read_bytes(), rel)
    mutate(doc)
    f = tmp_path / f"{name}.json"
    f.write_text(dump(doc))
    result = CliRunner().invoke(main, ["foreign", fmt, str(f)])
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    auto = CliRunner().invoke(main, ["foreign", "auto", str(f)])
    assert auto.exit_code == 1


# ---------------------------------------------------------------- OKX v2 (two files)

USER = DATA / "okx/example_user_info_file.json"
TREE = DATA / "okx/example_full-liabilities-merkle-tree.txt"


def _tree_lines() -> list[str]:
    return TREE.read_text().splitlines()


def _v2(tmp_path: Path, user: Any = None, tree: list[str] | None = None) -> Any:
    u, t = USER, TREE
    if user is not None:
        u = tmp_path / "user.json"
        u.write_text(json.dumps(user))
    if tree is not None:
        t = tmp_path / "tree.txt"
        t.write_text("\n".join(tree) + "\n")
    return verify_files("okx-v2", [u, t])


def _user() -> Any:
    return json.loads(USER.read_text())


def _replace_line(lines: list[str], index: int, new: str) -> list[str]:
    return [*lines[:index], new, *lines[index + 1 :]]


def test_okx_v2_baseline_passes(tmp_path: Path) -> None:
    assert _v2(tmp_path).ok


def test_okx_v2_edited_leaf_balance_fails(tmp_path: Path) -> None:
    user = _user()
    user["nodes"][0]["balances"]["BTC"] = "0.0000488"
    assert not _v2(tmp_path, user=user).ok


def test_okx_v2_inflated_total_fails(tmp_path: Path) -> None:
    user = _user()
    user["totalBalances"]["BTC"] = "0.00006"
    assert not _v2(tmp_path, user=user).ok


def test_okx_v2_leaf_missing_from_tree_fails(tmp_path: Path) -> None:
    lines = [ln for ln in _tree_lines() if not ln.startswith(_user()["nodes"][1]["hash"])]
    report = _v2(tmp_path, tree=lines)
    failed = {c.name for c in report.failures}
    assert "your leaves are in the tree file" in failed


def test_okx_v2_tree_leaf_with_other_balance_fails(tmp_path: Path) -> None:
    lines = _tree_lines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith(_user()["nodes"][0]["hash"]))
    h = _user()["nodes"][0]["hash"]
    report = _v2(
        tmp_path, tree=_replace_line(lines, i, f'{h},1,{{"BTC":"0.0000486","ETH":"0","USDT":"0"}}')
    )
    assert "your leaves are in the tree file" in {c.name for c in report.failures}


def test_okx_v2_forged_internal_node_fails_our_recomputation(tmp_path: Path) -> None:
    lines = _tree_lines()
    h, rest = lines[3].split(",", 1)
    report = _v2(tmp_path, tree=_replace_line(lines, 3, f"{flip_hex(h)},{rest}"))
    assert {c.name for c in report.failures} == {"tree file recomputes to one root"}


def test_okx_v2_understated_internal_sum_fails_our_recomputation(tmp_path: Path) -> None:
    lines = _tree_lines()
    h, height, _ = lines[2].split(",", 2)
    forged = f'{h},{height},{{"BTC":"0","ETH":"0.1","USDT":"1.41998149"}}'
    report = _v2(tmp_path, tree=_replace_line(lines, 2, forged))
    assert {c.name for c in report.failures} == {"tree file recomputes to one root"}


def test_okx_v2_dropped_tree_level_fails(tmp_path: Path) -> None:
    lines = [ln for ln in _tree_lines() if ln.split(",")[1] != "3"]
    assert not _v2(tmp_path, tree=lines).ok


def test_okx_v2_second_root_fails(tmp_path: Path) -> None:
    lines = _tree_lines()
    assert not _v2(tmp_path, tree=[lines[0], *lines]).ok


# ---------------------------------------------------------------- every field of every sample
#
# Issue 10: single-field edits of the real samples passed (an OKX node type the format does
# not define, Bybit heights). Every field of every sample is now mutated, every way below;
# each mutation must be refused as malformed, fail verification, or touch a field that the
# report names as "not bound by this format".

_HEX = re.compile(r"[0-9a-fA-F]+")
_DEC = re.compile(r"-?[0-9]+(\.[0-9]+)?")

JSON_SAMPLES: list[tuple[str, str]] = [
    ("okx-v1", "okx/example_merkle_proof_file.json"),
    *[
        ("bybit", f"bybit/mock_user_merkle_tree_path_40{v}.json")
        for v in ("", "_v2", "_v3", "_v4", "_v5")
    ],
    ("bitget", "bitget/merkel_tree_bg.json"),
    ("bitget", "bitget/merkel_tree_bg.6863e2d.json"),
    ("mexc", "mexc/merkle_proof.json"),
    ("coinex-variant-single-hash", "coinex/merkle_proof_file.json"),
]


Where = tuple[str | int, ...]


def _leaves(value: Any, at: Where = ()) -> Iterator[tuple[Where, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _leaves(v, (*at, k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _leaves(v, (*at, i))
    else:
        yield at, value


def _variants(value: Any, salt: int = 0) -> list[Any]:
    """Other values of the same JSON type: neighbours, every small enum value, respellings.

    An amount gets one of its three edits (one unit more, a respelling of the same value,
    the sign flipped), chosen by ``salt`` so that every kind is applied across a sample
    while the run stays short.
    """
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return sorted({value + 1, value - 1, 0, 1, 2, 3, 4, 5, 99} - {value})
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        edits = [value + Decimal(1).scaleb(min(exponent, 0)), Decimal(f"{value}0")]
        edits.append(-value if value else Decimal(1))
        return [edits[salt % 3]]
    if isinstance(value, str):
        out: list[str]
        if _DEC.fullmatch(value):
            out = [bump(value), value + "0" if "." in value else value + ".0"]
            out.append(value[1:] if value.startswith("-") else "-" + value)
            out = [out[salt % 3]]
        elif value and _HEX.fullmatch(value):
            out = [flip_hex(value), value.upper() if value != value.upper() else value.lower()]
        else:
            out = [value + "x", ""]
        return [o for o in out if o != value]
    return []


def _name(at: tuple[str | int, ...]) -> str:
    out = ""
    for k in at:
        out += f"[{k}]" if isinstance(k, int) else ("." if out else "") + k
    return out


def _mutations(doc: Any, prefix: tuple[str | int, ...]) -> Iterator[tuple[str, str, Any]]:
    """(field, operation, mutated document) for every field under ``prefix``."""
    for salt, (at, value) in enumerate(_leaves(doc)):
        if at[: len(prefix)] != prefix:
            continue
        for new in _variants(value, salt):
            mutated = copy.deepcopy(doc)
            _parent(mutated, at)[at[-1]] = new
            yield _name(at), f"set {new!r}", mutated
        mutated = copy.deepcopy(doc)
        parent = _parent(mutated, at)
        if isinstance(parent, list):
            parent.pop(int(at[-1]))
        else:
            del parent[at[-1]]
        yield _name(at), "delete", mutated


def _parent(doc: Any, at: tuple[str | int, ...]) -> Any:
    for k in at[:-1]:
        doc = doc[k]
    return doc


def _groups() -> list[tuple[str, str, Where]]:
    """One test per top-level node of each sample (self, path[i], root, ...)."""
    out: list[tuple[str, str, Where]] = []
    for fmt, rel in JSON_SAMPLES:
        doc = load_json((DATA / rel).read_bytes(), rel)
        for key, value in doc.items():
            if isinstance(value, list):
                out.extend((fmt, rel, (key, i)) for i in range(len(value)))
            else:
                out.append((fmt, rel, (key,)))
    return out


GROUPS = _groups()


def _judge(report_of: Callable[[], Any], field: str, what: str) -> str:
    """'malformed', 'failed' or 'unbound'; raise if an edit of a bound field verified."""
    try:
        report = report_of()
    except FormatError:
        return "malformed"
    if not report.ok:
        return "failed"
    assert report.is_unbound(field), (
        f"{field} {what} verified, and the report does not name {field} as not bound:\n"
        + report.render_text()
    )
    return "unbound"


@pytest.mark.parametrize(
    ("fmt", "rel", "prefix"), GROUPS, ids=[f"{Path(g[1]).stem}:{_name(g[2])}" for g in GROUPS]
)
def test_every_field_mutation_fails_or_is_reported_unbound(
    fmt: str, rel: str, prefix: tuple[str | int, ...], tmp_path: Path
) -> None:
    original = DATA / rel
    assert verify_files(fmt, [original]).ok, "the unmutated sample must pass"
    doc = load_json(original.read_bytes(), rel)
    outcomes: list[str] = []
    mutated_file = tmp_path / "mutated.json"
    for field, what, mutated in _mutations(doc, prefix):
        mutated_file.write_text(dump(mutated))
        outcomes.append(_judge(lambda: verify_files(fmt, [mutated_file]), field, what))
    assert outcomes, f"no field under {_name(prefix)}"


def _okx_v2_tree_mutations() -> Iterator[tuple[str, str, list[str]]]:
    lines = _tree_lines()
    for n, line in enumerate(lines):
        digest, height, balances = line.split(",", 2)
        values = json.loads(balances)
        for new_hash in _variants(digest):
            yield f"tree line {n + 1} hash", f"set {new_hash}", _replace_line(
                lines, n, f"{new_hash},{height},{balances}"
            )
        for new_height in _variants(int(height)):
            if new_height >= 1:
                yield f"tree line {n + 1} height", f"set {new_height}", _replace_line(
                    lines, n, f"{digest},{new_height},{balances}"
                )
        for salt, (asset, amount) in enumerate(values.items()):
            for new in _variants(amount, n + salt):
                changed = json.dumps({**values, asset: new}, separators=(",", ":"))
                yield f"tree line {n + 1} {asset}", f"set {new}", _replace_line(
                    lines, n, f"{digest},{height},{changed}"
                )


def test_okx_v2_every_field_mutation_fails_or_is_reported_unbound(tmp_path: Path) -> None:
    assert _v2(tmp_path).ok
    outcomes = []
    user = _user()
    for field, what, mutated in _mutations(user, ()):
        outcomes.append(_judge(partial(_v2, tmp_path, user=mutated), field, what))
    for field, what, lines in _okx_v2_tree_mutations():
        outcomes.append(_judge(partial(_v2, tmp_path, tree=lines), field, what))
    assert len(outcomes) > 300
