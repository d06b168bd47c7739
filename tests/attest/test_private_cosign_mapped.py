"""The co-signer's and ``por-verify liabilities``' recomputation of a private tree file reads
it through a read-only memory map, unmapped afterwards (spec §13.7, §16.10): the same
findings as the whole file read into memory, the same clear error for an empty or truncated
file, and no map or file left open. Peak memory is not asserted here (bench/ measures it)."""

from __future__ import annotations

import gc
import mmap
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import make_world
from click.testing import CliRunner
from private_attest_world import build_private_round, sign_private

from por.attest.rounds import SignedRound, audit_private_round_dir, load_round
from por.errors import InputError
from por.store.db import open_store
from verifier.cli import main as verify_main
from verifier.errors import FormatError, VerificationError
from verifier.private.proof import PrivateRoot
from verifier.private.treefile import PrivateTreeFile, audit_private_round


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[SignedRound, Path]:
    tmp = tmp_path_factory.mktemp("mapped")
    world = make_world(tmp)
    r = build_private_round(world, tmp, "p1")
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    try:
        sign_private(engine, world, r, "p1", 0)
        return load_round(engine, "p1"), r.directory
    finally:
        engine.dispose()


@pytest.fixture
def maps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[mmap.mmap]]:
    """Every memory map made while the test runs (the real mmap, recorded)."""
    made: list[mmap.mmap] = []
    real = mmap.mmap

    def recording(*args: Any, **kwargs: Any) -> mmap.mmap:
        m = real(*args, **kwargs)
        made.append(m)
        return m

    monkeypatch.setattr(mmap, "mmap", recording)
    yield made


def _copy(directory: Path, dest: Path, tree: bytes | None = None) -> Path:
    shutil.copytree(directory, dest)
    if tree is not None:
        (dest / "tree.bin").write_bytes(tree)
    return dest


def _in_memory_findings(stored: SignedRound, tree: bytes,
                        anchored: bool = True) -> tuple[str, ...]:
    """The reference: the whole file in memory, as before the map; ``anchored``: against
    the attested root hash (the co-signer's check; ``por-verify liabilities`` without
    ``--root`` has none)."""
    summary = PrivateRoot.from_json(stored.root)
    root = stored.attestation.liabilities.root_hash if anchored else None
    return audit_private_round(PrivateTreeFile(tree, "t"), summary, root).findings


def _no_leak(call: Any) -> Any:
    """``call()``, then no ResourceWarning (a file or map left to the collector)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        try:
            return call()
        finally:
            gc.collect()
            leaks = [w for w in seen if issubclass(w.category, ResourceWarning)]
            assert not leaks, [str(w.message) for w in leaks]


def test_a_clean_tree_is_audited_through_a_map_that_is_closed_after(
        signed: tuple[SignedRound, Path], maps: list[mmap.mmap]) -> None:
    stored, directory = signed
    _no_leak(lambda: audit_private_round_dir(stored, directory))
    assert len(maps) == 1  # the tree was mapped, not read whole
    assert maps[0].closed


@pytest.mark.parametrize("where", [-1, -40, 200])
def test_a_tampered_tree_gives_the_findings_of_the_in_memory_read(
        signed: tuple[SignedRound, Path], maps: list[mmap.mmap], tmp_path: Path,
        where: int) -> None:
    stored, directory = signed
    broken = bytearray((directory / "tree.bin").read_bytes())
    broken[where] ^= 1
    expected = _in_memory_findings(stored, bytes(broken))
    assert expected  # the flip is found at all
    copy = _copy(directory, tmp_path / "round", bytes(broken))
    with pytest.raises(VerificationError) as e:
        _no_leak(lambda: audit_private_round_dir(stored, copy))
    assert f"{len(expected)} finding(s), not co-signed: " + "; ".join(expected[:10]) \
        in str(e.value)
    assert maps and all(m.closed for m in maps)


@pytest.mark.parametrize("cut", ["empty", "truncated", "one byte more"])
def test_an_empty_or_truncated_tree_gets_the_parsers_clear_error(
        signed: tuple[SignedRound, Path], maps: list[mmap.mmap], tmp_path: Path,
        cut: str) -> None:
    stored, directory = signed
    data = (directory / "tree.bin").read_bytes()
    tree = {"empty": b"", "truncated": data[:-7], "one byte more": data + b"\0"}[cut]
    copy = _copy(directory, tmp_path / "round", tree)
    with pytest.raises(FormatError) as reference:
        PrivateTreeFile(tree, str(copy / "tree.bin"))
    with pytest.raises(FormatError) as e:
        _no_leak(lambda: audit_private_round_dir(stored, copy))
    assert str(e.value) == str(reference.value)
    assert all(m.closed for m in maps)
    assert len(maps) == (0 if cut == "empty" else 1)  # mmap refuses length 0: b"" instead


def test_an_unreadable_tree_is_an_input_error(
        signed: tuple[SignedRound, Path], tmp_path: Path) -> None:
    stored, directory = signed
    copy = _copy(directory, tmp_path / "round")
    (copy / "tree.bin").unlink()
    (copy / "tree.bin").mkdir()  # open() refuses a directory
    with pytest.raises(InputError, match="cannot read the round's tree file"):
        audit_private_round_dir(stored, copy)


def test_por_verify_liabilities_maps_the_tree_and_gives_the_same_verdicts(
        signed: tuple[SignedRound, Path], maps: list[mmap.mmap], tmp_path: Path) -> None:
    stored, directory = signed
    data = (directory / "tree.bin").read_bytes()
    broken = bytearray(data)
    broken[-1] ^= 1
    expected = _in_memory_findings(stored, bytes(broken), anchored=False)
    runner = CliRunner()
    for name, tree, code in (("clean", None, 0), ("tampered", bytes(broken), 1),
                             ("empty", b"", 2), ("truncated", data[:-7], 2)):
        copy = _copy(directory, tmp_path / name, tree)
        res = _no_leak(lambda c=copy: runner.invoke(verify_main, ["liabilities", str(c)]))
        assert res.exit_code == code, (name, res.output)
        if name == "tampered":
            assert f"{len(expected)} finding(s): " + "; ".join(expected) in res.output
        if name in ("empty", "truncated"):
            assert "tree.bin" in res.output and "Traceback" not in res.output
    assert len(maps) == 3 and all(m.closed for m in maps)  # every non-empty tree mapped
