"""Malformed input is a FormatError naming where (exit 2), never a KeyError or ValueError,
and the exchanges' decimal printing is reproduced exactly (checked against references).
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.cli import main
from verifier.cli.foreign import FORMATS, verify_files
from verifier.errors import FormatError, PorError
from verifier.foreign.parsing import (
    go_decimal_string,
    go_round_down,
    java_big_decimal_to_string,
    java_hashmap_order,
    java_set_scale_down_plain,
    java_string_hash,
    java_strip_plain,
    load_json,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"
SAMPLE = {
    "okx-v1": "okx/example_merkle_proof_file.json",
    "okx-v2": "okx/example_user_info_file.json",
    "bybit": "bybit/mock_user_merkle_tree_path_40.json",
    "bitget": "bitget/merkel_tree_bg.6863e2d.json",
    "mexc": "mexc/merkle_proof.json",
    "coinex": "coinex/merkle_proof_file.json",
}

# ------------------------------------------------------------------ decimal printing


def test_bybit_zero_sum_prints_with_scale_not_exponent() -> None:
    assert java_set_scale_down_plain(Decimal("0E-8"), 8) == "0.00000000"
    assert java_set_scale_down_plain(Decimal("0") + Decimal("0.00000000"), 8) == "0.00000000"
    assert java_set_scale_down_plain(Decimal("1.123456789"), 8) == "1.12345678"  # DOWN
    assert java_set_scale_down_plain(Decimal("-1.123456789"), 8) == "-1.12345678"
    assert str(Decimal("0.00000000")) == "0E-8"  # why a plain str() would break the hash


def test_go_decimal_string_trims_like_shopspring() -> None:
    assert go_decimal_string(Decimal("920")) == "920"
    assert go_decimal_string(Decimal("920.0")) == "920"
    assert go_decimal_string(Decimal("0.10")) == "0.1"
    assert go_decimal_string(Decimal("0E-8")) == "0"
    assert go_decimal_string(Decimal("-0.00")) == "0"
    assert go_decimal_string(Decimal("1E+3")) == "1000"
    assert go_round_down(Decimal("0.123456789"), 8) == Decimal("0.12345678")
    assert go_round_down(Decimal("-0.123456789"), 8) == Decimal("-0.12345678")  # toward zero
    assert go_round_down(Decimal("0.5"), 8) == Decimal("0.5")


def test_java_big_decimal_to_string_keeps_scale() -> None:
    assert java_big_decimal_to_string(Decimal("92889184629.59267820")) == "92889184629.59267820"
    assert java_big_decimal_to_string(Decimal("0.00000001")) == "1E-8"
    assert java_big_decimal_to_string(Decimal("0.000001")) == "0.000001"
    assert java_strip_plain(Decimal("100.00")) == "100"


def test_java_string_hash_and_hashmap_order() -> None:
    assert java_string_hash("BTC") == 66097  # Java: "BTC".hashCode()
    assert java_string_hash("hello") == 99162322  # Java: "hello".hashCode()
    assert java_hashmap_order(["USDT", "ETH", "BTC"]) == ["BTC", "ETH", "USDT"]


def _reference_plain(d: Decimal) -> str:
    """Obviously correct trailing-zero trim, by string surgery on the exact digits."""
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    if exponent >= 0:
        text += "0" * exponent
        integer, fraction = text, ""
    else:
        text = text.rjust(-exponent + 1, "0")
        integer, fraction = text[:exponent], text[exponent:]
    integer = integer.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    out = integer + ("." + fraction if fraction else "")
    return "0" if out == "0" else ("-" if sign else "") + out


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d) < 10**30
    )
)
def test_go_decimal_string_matches_reference(d: Decimal) -> None:
    assert go_decimal_string(d) == _reference_plain(d)


# ------------------------------------------------------------------ malformed input


MALFORMED: list[tuple[str, str, str]] = [
    ("okx-v1", "not json {", "not JSON"),
    ("okx-v1", '{"self": {}, "path": []}', "missing field"),
    ("okx-v1", '{"self": 1, "path": []}', "expected an object"),
    ("okx-v1", '{"self": {}, "path": [], "extra": 1}', "unknown field 'extra'"),
    ("okx-v1", '{"path": [], "path": []}', "duplicate JSON key"),
    ("bybit", '{"self": {"balance": {"BTC": NaN}}, "path": []}', "NaN"),
    ("mexc", b"\xff\xfe".decode("latin-1"), "not"),
    (
        "coinex",
        '{"root": {"balances": {}, "hash": "zz"}, '
        '"self": {"balances": {}, "nonce": ""}, "path": [{}]}',
        "hex",
    ),
    ("okx-v2", '{"hash": "", "nodes": [], "nonce": "", "totalBalances": {}}', "64 hex"),
]


@pytest.mark.parametrize(("fmt", "text", "says"), MALFORMED)
def test_malformed_file_is_format_error_exit_2(
    fmt: str, text: str, says: str, tmp_path: Path
) -> None:
    f = tmp_path / "bad.json"
    f.write_bytes(text.encode("latin-1") if fmt == "mexc" else text.encode())
    with pytest.raises(FormatError):
        verify_files(fmt, [f])
    result = CliRunner().invoke(main, ["foreign", fmt, str(f)])
    assert result.exit_code == 2
    assert "MALFORMED" in result.output and says in result.output, result.output


def _field_mutations(doc: Any, rng: random.Random) -> Any:
    """Delete, retype or rename one random field somewhere in ``doc``."""
    doc = json.loads(json.dumps(doc, default=str))
    containers = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            containers.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(doc)
    target = rng.choice(containers)
    if isinstance(target, dict) and target:
        key = rng.choice(list(target))
        action = rng.choice(["delete", "retype", "rename"])
        if action == "delete":
            del target[key]
        elif action == "retype":
            target[key] = rng.choice([None, 1.5, -3, "x", [], {}, True, "1e5", "0x1f"])
        else:
            target[key + "_"] = target.pop(key)
    elif isinstance(target, list) and target:
        rng.choice([target.pop, lambda: target.append(rng.choice([{}, 0, "x"]))])()
    return doc


@pytest.mark.parametrize("fmt", sorted(SAMPLE))
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_no_key_or_value_error_escapes(fmt: str, seed: int) -> None:
    """Random structural damage gives a report or a PorError, never KeyError/ValueError."""
    doc = load_json((DATA / SAMPLE[fmt]).read_bytes(), SAMPLE[fmt])
    broken = _field_mutations(doc, random.Random(seed))
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "x.json"
        f.write_text(json.dumps(broken))
        with contextlib.suppress(PorError):
            verify_files(fmt, [f])
        with contextlib.suppress(PorError):  # and a format the file is not in
            verify_files("coinex" if fmt == "okx-v1" else "okx-v1", [f])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_okx_v2_tree_damage_never_escapes(seed: int) -> None:
    rng = random.Random(seed)
    lines = (DATA / "okx/example_full-liabilities-merkle-tree.txt").read_text().splitlines()
    i = rng.randrange(len(lines))
    cut = rng.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:cut] + rng.choice(["", ",", "{", "x", ",,", '"', "-1"]) + lines[i][cut:]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree.txt"
        tree.write_text("\n".join(lines))
        with contextlib.suppress(PorError):
            verify_files("okx-v2", [DATA / "okx/example_user_info_file.json", tree])


def test_unreadable_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["foreign", "bybit", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_wrong_number_of_files_is_format_error() -> None:
    with pytest.raises(FormatError, match="exactly one file"):
        verify_files("mexc", [DATA / SAMPLE["mexc"], DATA / SAMPLE["mexc"]])
    with pytest.raises(FormatError, match="unknown FORMAT"):
        verify_files("kraken", [DATA / SAMPLE["mexc"]])
    assert "coinex-variant-single-hash" in FORMATS


def test_bitget_mixed_amount_types_are_refused(tmp_path: Path) -> None:
    doc = json.loads((DATA / "bitget/merkel_tree_bg.json").read_text())
    doc["path"][1]["balances"]["BTC"] = 0
    f = tmp_path / "mixed.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="mix JSON strings and numbers"):
        verify_files("bitget", [f])


def test_error_names_the_field_and_where(tmp_path: Path) -> None:
    doc = json.loads((DATA / "okx/example_merkle_proof_file.json").read_text())
    doc["path"][3]["balances"]["ETH"] = 1.5
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(
        FormatError, match=r"path\[3\]\.balances\.ETH: expected a string, found the number 1\.5"
    ):
        verify_files("okx-v1", [f])
