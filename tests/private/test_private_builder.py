"""The bounded-memory builder (``build_private_round``) against the in-memory reference
(``build_private_tree`` + ``write_private_round``): the same tree.bin and root.json, byte
for byte, for any users, sizes (powers of two or not), asset counts, wide amounts, padding,
subtree heights, worker counts and both versions (full hiding and hybrid)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import por.liabilities.private as private
from por.cli import main as por_main
from por.errors import InputError
from por.liabilities.private import (
    ROOT_FILE,
    TREE_FILE,
    build_private_round,
    build_private_tree,
    prove,
    write_private_round,
)
from por.liabilities.secret import load_secret
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import Asset, encode_amounts
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, verify_private_proof
from verifier.private.scheme import PrivateAsset, generator_seed
from verifier.private.treefile import PrivateTreeFile, audit_private_tree, record_size

SECRET = bytes(range(32))
ASSETS = [Asset("BTC", 8), Asset("ETH", 18), Asset("USDT", 6)]
ASSETS_JSON = '[{"symbol": "BTC", "decimals": 8}, {"symbol": "ETH", "decimals": 18}]'
AMOUNT = st.one_of(st.integers(0, 10**12), st.integers(0, 2**128 - 1), st.just(0))


def _same(tmp: Path, users: list[tuple[str, list[int]]], k: int, pad_to: int | None,
          hidden: int | None, subtree: int, workers: int, accelerate: bool = True) -> None:
    assets = ASSETS[:k]
    reference = tmp / "reference"
    write_private_round(build_private_tree("r-b", assets, SECRET, users, pad_to,
                                           hidden_levels=hidden), reference)
    bounded = tmp / "bounded"
    root, stats = build_private_round("r-b", assets, SECRET, users, bounded, pad_to,
                                      workers=workers, hidden_levels=hidden,
                                      subtree_levels=subtree, accelerate=accelerate)
    assert (bounded / TREE_FILE).read_bytes() == (reference / TREE_FILE).read_bytes()
    assert (bounded / ROOT_FILE).read_bytes() == (reference / ROOT_FILE).read_bytes()
    assert root.to_bytes() == (reference / ROOT_FILE).read_bytes()
    assert (stats.users, stats.leaf_count) == (len(users), root.leaf_count)
    assert (bounded / TREE_FILE).stat().st_mode & 0o777 == 0o600
    assert not list(bounded.glob(".*"))  # no temporary file left


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), k=st.integers(1, 3), count=st.integers(0, 40),
       pad_to=st.one_of(st.none(), st.integers(1, 70)), subtree=st.integers(0, 4),
       hidden=st.one_of(st.none(), st.integers(1, 7)), accelerate=st.booleans())
def test_bounded_builder_matches_the_reference(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, k: int, count: int,
        pad_to: int | None, subtree: int, hidden: int | None, accelerate: bool) -> None:
    users = [(f"user-{i}", data.draw(st.lists(AMOUNT, min_size=k, max_size=k)))
             for i in range(count)]
    n = max(count, pad_to or 1, 1)
    levels = (n - 1).bit_length()
    if hidden is not None and levels <= 1:
        hidden = None  # a hybrid round needs 1 ≤ L < levels, or L ≥ levels (full)
    _same(tmp_path_factory.mktemp("b"), users, k, pad_to, hidden, subtree, workers=1,
          accelerate=accelerate)


@pytest.mark.parametrize(("count", "hidden", "accelerate"),
                         [(37, None, True), (100, 3, False), (129, None, True)])
def test_bounded_builder_with_worker_processes(tmp_path: Path, count: int,
                                               hidden: int | None, accelerate: bool) -> None:
    users = [(f"u{i}", [(i * 7919) % 10**12, i << 70, 0]) for i in range(count)]
    _same(tmp_path, users, 3, None, hidden, subtree=2, workers=2, accelerate=accelerate)


def test_bounded_round_proves_verifies_and_audits(tmp_path: Path) -> None:
    users = [(f"u{i}", [i * 10**6, i * 10**17, 7]) for i in range(1, 20)]
    root, _ = build_private_round("r-b", ASSETS, SECRET, users, tmp_path, workers=2,
                                  subtree_levels=2)
    tree = PrivateTreeFile((tmp_path / TREE_FILE).read_bytes())
    assert audit_private_tree(tree) == []
    proof = prove(tmp_path, SECRET, "u5")
    report = verify_private_proof(PrivateProof.from_json(proof.to_bytes()), summary=root)
    assert report.amounts == (5 * 10**6, 5 * 10**17, 7)


def test_bounded_builder_refuses_bad_input(tmp_path: Path) -> None:
    users = [("a", [1, 2, 3]), ("b", [4, 5, 6])]
    with pytest.raises(InputError, match="twice"):
        build_private_round("r-b", ASSETS, SECRET, [*users, users[0]], tmp_path / "dup")
    with pytest.raises(InputError, match="amounts"):
        build_private_round("r-b", ASSETS, SECRET, [("a", [1, 2])], tmp_path / "short")
    with pytest.raises(InputError, match="amounts"):
        build_private_round("r-b", ASSETS, SECRET, [("a", [1, 2, 2**128])], tmp_path / "wide")
    build_private_round("r-b", ASSETS, SECRET, users, tmp_path / "once")
    with pytest.raises(InputError, match="never overwritten"):
        build_private_round("r-b", ASSETS, SECRET, users, tmp_path / "once")


def test_cli_build_private_is_the_reference_round(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.csv"
    snapshot.write_text("user_id,asset,amount\nalice,BTC,1.5\nalice,ETH,2\nbob,ETH,0.25\n"
                        "carol,BTC,3\n")
    assets = tmp_path / "assets.json"
    assets.write_text(ASSETS_JSON)
    out = tmp_path / "round"
    result = CliRunner().invoke(por_main, [
        "liabilities", "build-private", str(snapshot), "--assets", str(assets), "--round",
        "r-cli", "--out", str(out), "--secret-file", str(tmp_path / "secret.key"),
        "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "peak memory" in result.output
    reference = tmp_path / "reference"
    users = [("alice", [150_000_000, 2 * 10**18]), ("bob", [0, 25 * 10**16]),
             ("carol", [300_000_000, 0])]
    write_private_round(build_private_tree("r-cli", ASSETS[:2],
                                           load_secret(tmp_path / "secret.key"), users),
                        reference)
    assert (out / TREE_FILE).read_bytes() == (reference / TREE_FILE).read_bytes()
    assert (out / ROOT_FILE).read_bytes() == (reference / ROOT_FILE).read_bytes()


def test_bounded_builder_leaves_no_partial_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A subtree task that fails mid-build leaves neither tree.bin nor its temporary file."""
    def broken(task: object) -> object:
        raise VerificationError("worker failed")

    monkeypatch.setattr(private, "_build_subtree", broken)
    users = [(f"u{i}", [i, i, i]) for i in range(20)]
    with pytest.raises(VerificationError, match="worker failed"):
        build_private_round("r-b", ASSETS, SECRET, users, tmp_path, subtree_levels=2)
    assert list(tmp_path.iterdir()) == []


# --- The C accelerator (por._privfast) against the Python subtree builder ----------------

needs_native = pytest.mark.skipif(private._native() is None,
                                  reason="por._privfast is not built (optional extension)")


def _task(k: int, height: int, index: int, exponents: list[int], leaves: list[bytes],
          blindings: tuple[int, ...]) -> private._Subtree:
    assets = tuple(PrivateAsset(f"A{j}", 8, e) for j, e in enumerate(exponents))
    return private._Subtree("r-native", SECRET, assets,
                            tuple(pc.generator(generator_seed(a)) for a in assets), index,
                            height, index << height, leaves, blindings,
                            private._Layout("", 0, record_size(k), (0,)), True)


@needs_native
@settings(max_examples=60, deadline=None)
@given(data=st.data(), k=st.integers(1, 4), height=st.integers(0, 5),
       index=st.integers(0, 2**20))
def test_native_subtree_is_the_python_subtree(data: st.DataObject, k: int, height: int,
                                              index: int) -> None:
    """Byte for byte: records of every level and the root's points, for any blindings
    (0, n − 1 included), unit exponents (0–38) and amounts whose sums fit in 64 bits."""
    exponents = data.draw(st.lists(st.integers(0, 38), min_size=k, max_size=k))
    leaves = []
    for _ in range(1 << height):
        amounts = []
        for e in exponents:
            value = data.draw(st.integers(0, ((1 << 64) - 1) >> height))
            below = data.draw(st.integers(0, 10**e - 1)) if value else 0
            amounts.append(min(value * 10**e - below, 2**128 - 1))
        leaves.append(data.draw(st.binary(min_size=32, max_size=32)) + encode_amounts(amounts))
    scalar = st.one_of(st.just(0), st.just(pc.GROUP_ORDER - 1),
                       st.integers(0, pc.GROUP_ORDER - 1))
    blindings = tuple(data.draw(scalar) for _ in range(k))
    task = _task(k, height, index, exponents, leaves, blindings)
    try:
        expected = private._subtree_records(task)
    except (FormatError, VerificationError):
        assert private._native_subtree(task) is None  # the Python builder's error then
        return
    assert private._native_subtree(task) == expected


@needs_native
def test_native_subtree_leaves_errors_to_the_python_builder() -> None:
    """A value above 2^64 − 1: None from C, and the Python builder's message."""
    leaves = [bytes(32) + encode_amounts([1 << 64]), bytes([1]) * 32 + encode_amounts([0])]
    task = _task(1, 1, 0, [0], leaves, (5,))
    assert private._native_subtree(task) is None
    with pytest.raises(FormatError, match="above 2\\^64-1"):
        private._build_subtree(task)


def test_builder_without_the_accelerator(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without por._privfast (absent: a machine without a compiler) the Python path
    builds the same round."""
    monkeypatch.setattr(private, "_NATIVE", False)
    assert private._native() is None
    users = [(f"u{i}", [i * 10**9, i << 66, 3]) for i in range(45)]
    _same(tmp_path, users, 3, 64, None, subtree=3, workers=1, accelerate=True)


@needs_native
def test_accelerator_refused_when_it_disagrees_or_a_symbol_is_gone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The load check fails loudly: a known answer that differs (a changed library or a
    miscompiled extension), or a library symbol that is no longer exported."""
    real = private._subtree_records
    monkeypatch.setattr(private, "_NATIVE", None)
    monkeypatch.setattr(private, "_subtree_records",
                        lambda task: (real(task)[0][:-1] + b"\x00", real(task)[1]))
    with pytest.raises(VerificationError, match="disagrees"):
        private._native()
    monkeypatch.setattr(private, "_subtree_records", real)
    monkeypatch.setattr(private, "_NATIVE", None)
    monkeypatch.setattr(private, "_NATIVE_SYMBOLS",
                        (*private._NATIVE_SYMBOLS, "secp256k1_no_such_function"))
    with pytest.raises(VerificationError, match="no longer exports"):
        private._native()
