"""The proof text formatter in C (por._fasthash.format_records) against its pure-Python twin
(por.liabilities.prove.format_records): the same bytes, always, and prove-all's output on
the pure-Python path is still `por liabilities prove`'s, byte for byte."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from snapshots import balances_to_rows, write_assets, write_csv

from por.cli import main as por_main
from por.errors import PorError
from por.liabilities import buckets
from por.liabilities import prove as prove_mod
from por.liabilities.prove import format_records, native_format_records, prove_all
from por.liabilities.secret import default_secret_path, load_secret

native = buckets.native
needs_native = pytest.mark.skipif(native is None or not hasattr(native, "format_records"),
                                  reason="por._fasthash.format_records not built")
U128_MAX = 2**128 - 1
ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]

u128s = st.one_of(st.sampled_from([0, 1, 9, 10, 2**64 - 1, 2**64, 10**19, 10**38, U128_MAX]),
                  st.integers(0, 2**64), st.integers(0, U128_MAX))
pieces_of = st.binary(max_size=12)  # any bytes: '%', quotes, NULs pass through as they are


@st.composite
def batches(draw: st.DrawFn) -> tuple[bytes, int, bool, int, tuple[bytes, ...]]:
    m = draw(st.integers(1, 9))
    n = draw(st.integers(0, 12))
    records = b"".join(draw(st.binary(min_size=32, max_size=32))
                       + b"".join(v.to_bytes(16, "big")
                                  for v in draw(st.lists(u128s, min_size=m, max_size=m)))
                       for _ in range(n))
    pieces = tuple(draw(st.lists(pieces_of, min_size=m + 3, max_size=m + 3)))
    return records, 32 + 16 * m, draw(st.booleans()), draw(st.integers(0, 2**40)), pieces


@needs_native
@settings(max_examples=400, deadline=None)
@given(batches())
def test_c_formatter_makes_the_python_bytes(batch: tuple[bytes, int, bool, int,
                                                         tuple[bytes, ...]]) -> None:
    records, width, hexed, first, pieces = batch
    assert native.format_records(records, width, hexed, first, pieces) == format_records(
        records, width, hexed, first, pieces)


@pytest.mark.parametrize("fmt", ["c", "python"])
def test_u128_extremes_are_their_decimal_digits(fmt: str) -> None:
    if fmt == "c" and (native is None or not hasattr(native, "format_records")):
        pytest.skip("por._fasthash.format_records not built")
    f = native.format_records if fmt == "c" else format_records
    values = [0, U128_MAX, 2**64 - 1, 2**64, 10**38]
    record = bytes(range(32)) + b"".join(v.to_bytes(16, "big") for v in values)
    pieces = (b"L", b"R", b"(", b",", b",", b",", b",", b")")
    want_tail = ("(0,340282366920938463463374607431768211455,18446744073709551615,"
                 "18446744073709551616,1" + "0" * 38 + ")").encode()
    assert f(record * 2, len(record), True, 0, pieces) == [
        b"L" + bytes(range(32)).hex().encode() + want_tail,
        b"R" + bytes(range(32)).hex().encode() + want_tail]
    assert f(record, len(record), False, 1, pieces) == [b"R" + want_tail]


@pytest.mark.parametrize("fmt", ["c", "python"])
def test_formatter_refuses_partial_records(fmt: str) -> None:
    if fmt == "c" and (native is None or not hasattr(native, "format_records")):
        pytest.skip("por._fasthash.format_records not built")
    f = native.format_records if fmt == "c" else format_records
    with pytest.raises(ValueError):
        f(bytes(47), 48, True, 0, (b"", b"", b"", b""))
    with pytest.raises(ValueError):
        f(bytes(48), 48, True, 0, (b"", b"", b""))  # m + 2 pieces


def test_a_c_formatter_that_disagrees_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(records: bytes, width: int, hexed: bool, first: int,
              pieces: tuple[bytes, ...]) -> list[bytes]:
        return [t.replace(b"9", b"8") for t in format_records(records, width, hexed, first,
                                                               pieces)]

    monkeypatch.setattr(buckets, "native", SimpleNamespace(format_records=wrong))
    with pytest.raises(PorError, match="formats proof text otherwise"):
        native_format_records()
    monkeypatch.setattr(buckets, "native", None)
    assert native_format_records() is format_records


@pytest.fixture(autouse=True)
def _private_secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("POR_ROUND_SECRET_FILE", raising=False)


def test_prove_all_on_the_python_formatter_is_the_reference_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # workers=1 runs the shards in this process, so the patch reaches them.
    monkeypatch.setattr(prove_mod, "native_format_records", lambda: format_records)
    monkeypatch.setattr(prove_mod, "SHARD_BITS", 5)
    monkeypatch.setattr(prove_mod, "CHUNK_BITS", 2)
    rng = random.Random(16)
    bal = {f"u{i}": [rng.randrange(10**9), rng.randrange(10**36), rng.randrange(2)]
           for i in range(150)}
    bal["quote\"d é"] = [0, 2**100, 1]
    snap = write_csv(tmp_path / "s.csv", balances_to_rows(bal, ASSETS))
    assets = write_assets(tmp_path / "a.json", ASSETS)
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                        str(assets), "--round", "r1", "--out",
                                        str(tmp_path / "round"), "--quiet"])
    assert res.exit_code == 0, res.output
    secret = load_secret(default_secret_path("r1"))
    prover = prove_mod.Prover(tmp_path / "round", secret)
    try:
        want = {json.dumps(prover.prove(u).to_dict(), separators=(",", ":")).encode() + b"\n"
                for u in bal}
    finally:
        prover.close()
    prove_all(tmp_path / "round", secret, snap, tmp_path / "p.jsonl", workers=1)
    lines = (tmp_path / "p.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == len(bal) and set(lines) == want
