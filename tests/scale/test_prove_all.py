"""Every user's proof written out, streaming: one JSON line or one file each, all verified."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from snapshots import balances_to_rows, write_assets, write_csv

from por.cli import main as por_main
from por.errors import InputError
from por.liabilities import snapshot as snapshot_mod
from por.liabilities.prove import proof_file_name, prove_all
from por.liabilities.secret import default_secret_path, load_secret
from verifier.liabilities.proof import InclusionProof, verify_proof
from verifier.liabilities.summary import RootSummary

ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]


@pytest.fixture(autouse=True)
def _private_secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The build writes the round secret to $XDG_DATA_HOME/por/secrets: keep it out of ~.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("POR_ROUND_SECRET_FILE", raising=False)


def _round(tmp_path: Path, users: int) -> tuple[Path, Path, dict[str, list[int]]]:
    rng = random.Random(users)
    bal = {f"u{i}": [rng.randrange(10**9), i, 1] for i in range(users)}
    bal["name with space/and slash"] = [1, 2, 3]
    rows = balances_to_rows(bal, ASSETS)
    rng.shuffle(rows)  # a user's rows spread over batches: each proof must come out once
    snap = write_csv(tmp_path / "s.csv", rows)
    assets = write_assets(tmp_path / "a.json", ASSETS)
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                        str(assets), "--round", "r1", "--out",
                                        str(tmp_path / "round"), "--quiet"])
    assert res.exit_code == 0, res.output
    return tmp_path / "round", snap, bal


def test_prove_all_jsonl_once_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    round_dir, snap, bal = _round(tmp_path, 300)
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 64)
    res = CliRunner().invoke(por_main, ["liabilities", "prove-all", str(round_dir),
                                        "--snapshot", str(snap), "--out",
                                        str(tmp_path / "proofs.jsonl")])
    assert res.exit_code == 0, res.output
    summary = RootSummary.from_json((round_dir / "root.json").read_bytes())
    lines = (tmp_path / "proofs.jsonl").read_text().splitlines()
    assert len(lines) == len(bal)
    seen = set()
    for line in lines:
        proof = InclusionProof.from_json(line)
        verify_proof(proof, summary=summary)
        assert list(proof.amounts) == bal[proof.user_id]
        seen.add(proof.user_id)
    assert seen == set(bal)


def test_prove_all_directory_one_file_per_user(tmp_path: Path) -> None:
    round_dir, snap, bal = _round(tmp_path, 40)
    secret = load_secret(default_secret_path("r1"))
    result = prove_all(round_dir, secret, snap, tmp_path / "proofs", workers=1)
    assert result.users == len(bal)
    files = sorted(p.name for p in (tmp_path / "proofs").iterdir())
    assert files == sorted(proof_file_name(u) for u in bal)
    assert proof_file_name("u1") == "u1.json"
    assert proof_file_name("name with space/and slash").startswith("_")
    one = json.loads((tmp_path / "proofs" / "u7.json").read_text())
    assert one["user_id"] == "u7"


def test_prove_all_with_another_snapshot_is_refused(tmp_path: Path) -> None:
    round_dir, _, _ = _round(tmp_path, 10)
    other = write_csv(tmp_path / "other.csv", [("stranger", "BTC", "1")])
    secret = load_secret(default_secret_path("r1"))
    with pytest.raises(InputError, match="'stranger' is not in round r1"):
        prove_all(round_dir, secret, other, tmp_path / "p.jsonl", workers=1)
    assert not (tmp_path / "p.jsonl").exists()


# --- the bulk text is the reference text, byte for byte ------------------------------------

ODD_IDS = ["quote\"d", "back\\slash", "tab\tnot printable?", "é-accent", "日本",
           "name with space/and slash", "a" * 128, "_" + "0" * 64, "emoji-\U0001f600"]


def _reference_lines(round_dir: Path, users: list[str], secret: bytes) -> dict[str, bytes]:
    from por.liabilities.prove import Prover

    prover = Prover(round_dir, secret)
    try:
        return {u: prover.prove(u).to_json().encode() for u in users}
    finally:
        prover.close()


@pytest.mark.parametrize(("shard_bits", "chunk_bits"), [(16, 12), (4, 2), (3, 1)])
def test_bulk_proofs_are_the_reference_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             shard_bits: int, chunk_bits: int) -> None:
    from por.liabilities import prove as prove_mod

    monkeypatch.setattr(prove_mod, "SHARD_BITS", shard_bits)
    monkeypatch.setattr(prove_mod, "CHUNK_BITS", chunk_bits)
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 97)
    rng = random.Random(7)
    bal = {f"u{i}": [rng.randrange(10**9), rng.randrange(10**30), rng.randrange(2)]
           for i in range(300)}
    bal.update({u: [1, 2**100, 3] for u in ODD_IDS if u.isprintable()})
    rows = balances_to_rows(bal, ASSETS)
    rng.shuffle(rows)
    snap = write_csv(tmp_path / "s.csv", rows)
    assets = write_assets(tmp_path / "a.json", ASSETS)
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                        str(assets), "--round", "r1", "--out",
                                        str(tmp_path / "round"), "--quiet"])
    assert res.exit_code == 0, res.output
    secret = load_secret(default_secret_path("r1"))
    want = _reference_lines(tmp_path / "round", list(bal), secret)
    prove_all(tmp_path / "round", secret, snap, tmp_path / "p", workers=1)
    prove_all(tmp_path / "round", secret, snap, tmp_path / "p.jsonl", workers=1)
    files = {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir()}
    assert files == {proof_file_name(u): text for u, text in want.items()}
    lines = (tmp_path / "p.jsonl").read_bytes().splitlines(keepends=True)
    compact = {json.dumps(json.loads(t), separators=(",", ":")).encode() + b"\n"
               for t in want.values()}
    assert len(lines) == len(want) and set(lines) == compact
    # Compressed, one file per shard: decompressed in name order, the .jsonl's bytes; and
    # the same bytes again from another run with another number of workers.
    for compress in ("gzip", "zstd"):
        one, two = tmp_path / f"{compress}-1", tmp_path / f"{compress}-2"
        prove_all(tmp_path / "round", secret, snap, one, workers=1, compress=compress)
        prove_all(tmp_path / "round", secret, snap, two, workers=2, compress=compress)
        parts = sorted(one.iterdir())
        assert len(parts) > (1 if shard_bits < 16 else 0)
        assert all(p.name.startswith("part-") and p.name.endswith(
            ".jsonl.gz" if compress == "gzip" else ".jsonl.zst") for p in parts)
        assert b"".join(_decompressed(p) for p in parts) == (tmp_path / "p.jsonl").read_bytes()
        assert [p.read_bytes() for p in parts] == [p.read_bytes() for p in sorted(two.iterdir())]
    # The CLI's own output, for a few users, is the same bytes.
    for user in ["u0", "u299", "quote\"d", "日本"]:
        res = CliRunner().invoke(por_main, ["liabilities", "prove", str(tmp_path / "round"),
                                            user])
        assert res.exit_code == 0, res.output
        assert res.stdout_bytes == want[user]


def test_bulk_margin_proofs_are_the_reference_bytes(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from por.liabilities import prove as prove_mod
    from por.liabilities.margin import margin_proof_text

    monkeypatch.setattr(prove_mod, "SHARD_BITS", 5)
    monkeypatch.setattr(prove_mod, "CHUNK_BITS", 3)
    ledger = Path(__file__).parents[1] / "data" / "otter_por_v2" / "generated-private_ledger.json"
    run = CliRunner()
    inputs, out, key = tmp_path / "in", tmp_path / "round", tmp_path / "private" / "r.key"
    res = run.invoke(por_main, ["liabilities", "import-ledger", "--format", "otter-porv2",
                                str(ledger), "--out", str(inputs)])
    assert res.exit_code == 0, res.output
    res = run.invoke(por_main, ["liabilities", "build", str(inputs / "snapshot.csv"),
                                "--assets", str(inputs / "assets.json"), "--risk",
                                str(inputs / "risk.json"), "--round", "m1", "--out", str(out),
                                "--secret-file", str(key)])
    assert res.exit_code == 0, res.output
    users = sorted(json.loads(ledger.read_text())["accounts"])
    assert len(users) >= 200
    secret = load_secret(key)
    for form in ("p", "p.jsonl"):
        res = run.invoke(por_main, ["liabilities", "prove-all", str(out), "--snapshot",
                                    str(inputs / "snapshot.csv"), "--out",
                                    str(tmp_path / form), "--secret-file", str(key)])
        assert res.exit_code == 0, res.output
    lines = set((tmp_path / "p.jsonl").read_bytes().splitlines(keepends=True))
    assert len(lines) == len(users)
    for user in users:
        text = margin_proof_text(out, secret, user).encode()
        assert (tmp_path / "p" / proof_file_name(user)).read_bytes() == text
        assert json.dumps(json.loads(text), separators=(",", ":")).encode() + b"\n" in lines


def _decompressed(path: Path) -> bytes:
    """A shard file's bytes, by the format's own readers (gzip; zstd as ``zstd -d`` reads
    it, through pyarrow's stream reader: every frame of the file)."""
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    import pyarrow as pa

    with pa.CompressedInputStream(pa.OSFile(str(path)), "zstd") as stream:
        return bytes(stream.read())


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_prove_all_compressed_shards_from_the_cli(tmp_path: Path, compress: str) -> None:
    round_dir, snap, bal = _round(tmp_path, 40)
    base = ["liabilities", "prove-all", str(round_dir), "--snapshot", str(snap)]
    res = CliRunner().invoke(por_main, [*base, "--out", str(tmp_path / "pz"),
                                        "--compress", compress])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(por_main, [*base, "--out", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 0, res.output
    (part,) = (tmp_path / "pz").iterdir()  # 41 users: one shard
    assert part.name == "part-0000000.jsonl." + ("gz" if compress == "gzip" else "zst")
    assert _decompressed(part) == (tmp_path / "p.jsonl").read_bytes()
    assert len((tmp_path / "p.jsonl").read_bytes().splitlines()) == len(bal)
    # One compressed file per shard needs a directory: a .jsonl OUT is refused, unwritten.
    res = CliRunner().invoke(por_main, [*base, "--out", str(tmp_path / "z.jsonl"),
                                        "--compress", compress])
    assert res.exit_code == 2 and f"--compress {compress}" in res.output, res.output
    assert not (tmp_path / "z.jsonl").exists()
