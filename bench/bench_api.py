"""Proof requests per second served by ``por serve`` from a round of 1M users, measured with
wrk on loopback beside a trivial FastAPI endpoint in the same run (the yardstick).

Writes its own section of bench/README.md (between the ``bench_api`` markers; the rest of
the file belongs to bench_build.py). wrk comes from Debian's packages: this script installs
it if missing (``make test`` never does). Rate limiting is turned off for the measurement
(``--proof-rate 0``): with it on, a single client would only measure 429 answers.

A private round's proofs by token (spec §16.16) are measured in the same run: a private round
of ``--private-users`` (2^14) x 4 assets, each proof made on demand (levels x assets range
proofs made and checked), by a server that keeps none (``--private-cache 0``: cold) and by
one that keeps the default 64 asked again (cached).

Run: .venv/bin/python bench/bench_api.py [--users 1000000] [--duration 6] [--rounds 3]
     [--private-users 16384]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parent))
from snapshot_gen import DATA_DIR, assets_for, snapshot_path

README = Path(__file__).parent / "README.md"
RESULTS = Path(__file__).parent / "results"
START = "<!-- bench_api:start -->"
END = "<!-- bench_api:end -->"
SECRET = bytes(range(32))  # a fixed, public bench secret: never a real round's
ROUND = "bench-api"
YARDSTICK = "trivial FastAPI endpoint (yardstick)"
PROOFS = "por serve: /api/v1/proofs/{token}"
PRIVATE_ROUND = "bench-api-private"
PRIVATE_COLD = "por serve: private proof by token, cold (--private-cache 0)"
PRIVATE_CACHED = "por serve: private proof by token, cached (64 kept, 32 tokens asked)"
PRIVATE_CONNECTIONS = 2  # the server makes at most 2 private proofs at once (spec §16.16)
CACHED_TOKENS = 32
LOGGED = "trivial FastAPI endpoint, with uvicorn's access log"
TARGET = 0.8
HEADER = ("| endpoint | requests/s | x yardstick | mean latency ms | p99 ms | non-2xx |"
          " server CPU µs/request | x yardstick, by CPU |\n|---|---|---|---|---|---|---|---|")
NOTE = """What a proof request costs beyond a trivial one: the token lookup
(SHA-256, a binary search of the token index, AES-GCM), the path below the kept levels (one
SHA-256 and the exact sums per level) and the text, about 200 µs of CPU here. The proof is
answered by a pure ASGI layer in front of the router (`api.app.ProofRoute`: no route scan,
parameter solving or response classes), on the event loop, not through FastAPI's thread
pool, whose hop the trivial `def` endpoint pays (compare its `async def` line): the work is
CPU under the GIL on mapped files, where a worker thread gains nothing (before issue 16's
serving work: 0.53x at load 1.3). Every answer of `por serve` also passes
one pure ASGI layer (`api.app.Edge`: the security headers as a precomputed raw list, and the
access line made from the redacted path; uvicorn's own access log and its redaction filter
are off)."""

# The yardstick: the smallest FastAPI endpoint, served by the same uvicorn the same way.
trivial_app = FastAPI()


@trivial_app.get("/ping")
def trivial_ping() -> dict[str, bool]:
    """The trivial endpoint (a plain ``def``: FastAPI runs it in its thread pool)."""
    return {"ok": True}


@trivial_app.get("/ping-async")
async def trivial_ping_async() -> dict[str, bool]:
    """The same as an ``async def`` (run on the event loop, as the proof route is)."""
    return {"ok": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or "/usr/bin/wrk"


def prepare_round(users: int) -> tuple[Path, list[str]]:
    """A built round of ``users`` users (4 assets) with a token issued to every user;
    cached under .bench-data/. Returns the rounds directory and a sample of tokens."""
    from por.liabilities.build import build_tree
    from por.liabilities.tokens import TOKEN_FILE, issue_tokens

    base = DATA_DIR / f"api-{users}u"
    round_dir = base / "rounds" / ROUND
    sample_file = base / "token-sample.txt"
    if not (round_dir / TOKEN_FILE).exists() or not sample_file.exists():
        shutil.rmtree(base, ignore_errors=True)
        snapshot = snapshot_path(users, 4)
        t0 = time.perf_counter()
        build_tree(snapshot, assets_for(4), ROUND, SECRET, round_dir)
        print(f"built {users} users in {time.perf_counter() - t0:.1f} s", flush=True)
        ids = pq.read_table(snapshot, columns=["user_id"]).column(0).unique().to_pylist()
        t0 = time.perf_counter()
        pairs = issue_tokens(round_dir, SECRET, ids)
        print(f"issued {len(pairs)} tokens in {time.perf_counter() - t0:.1f} s", flush=True)
        sample = [token for _, token in random.Random(1).sample(pairs, 10_000)]
        sample_file.write_text("\n".join(sample) + "\n")
    return base / "rounds", sample_file.read_text().split()


def prepare_private_round(users: int) -> tuple[Path, list[str]]:
    """A private round of ``users`` users x 4 assets (the bounded-memory builder, the CLI's)
    with a token issued to every user; cached under .bench-data/. Returns the rounds
    directory and a sample of tokens."""
    from por.liabilities.private import build_private_round
    from por.liabilities.tokens import TOKEN_FILE, issue_tokens

    base = DATA_DIR / f"api-private-{users}u"
    round_dir = base / "rounds" / PRIVATE_ROUND
    sample_file = base / "token-sample.txt"
    if not (round_dir / TOKEN_FILE).exists() or not sample_file.exists():
        shutil.rmtree(base, ignore_errors=True)
        ids = [f"u{i}" for i in range(users)]
        t0 = time.perf_counter()
        build_private_round(PRIVATE_ROUND, assets_for(4), SECRET, (
            (u, [(i * 7919 + j * 104729) % 10**12 for j in range(4)])
            for i, u in enumerate(ids)), round_dir, workers=2)
        print(f"built a private round of {users} users in {time.perf_counter() - t0:.1f} s",
              flush=True)
        pairs = issue_tokens(round_dir, SECRET, ids)
        sample = [token for _, token in random.Random(2).sample(pairs, min(2_000, users))]
        sample_file.write_text("\n".join(sample) + "\n")
    return base / "rounds", sample_file.read_text().split()


def token_script(path: Path, tokens: list[str]) -> Path:
    """A wrk script asking for a random one of ``tokens`` each request."""
    lua_tokens = ",".join(f'"{t}"' for t in tokens)
    path.write_text(
        f"local tokens = {{{lua_tokens}}}\n"
        "request = function()\n"
        '  return wrk.format("GET", "/api/v1/proofs/" .. tokens[math.random(#tokens)])\n'
        "end\n"
    )
    return path


def serve(args: list[str], port: int, ready: str) -> subprocess.Popen[bytes]:
    """Start a server and wait until ``ready`` answers 200."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {args}") from None
            time.sleep(0.3)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    wrk: str, url: str, duration: int, connections: int, script: Path | None, pid: int
) -> dict[str, float]:
    """One wrk run: requests/s, mean and p99 latency (ms), non-2xx answers, and the server
    process's CPU microseconds per request (a figure the other processes on a shared
    machine disturb less than the rate)."""
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "30s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cpu0 = cpu_seconds(pid)
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu0
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    latency = re.search(r"Latency\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "mean_ms": ms(latency), "p99_ms": ms(p99),
            "non2xx": float(bad.group(1)) if bad else 0.0,
            "cpu_us": cpu / max(done, 1) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10, help="seconds of proofs first")
    parser.add_argument("--private-users", type=int, default=2**14)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the section, leave README.md and results/ alone")
    opts = parser.parse_args()
    wrk = ensure_wrk()
    rounds_dir, tokens = prepare_round(opts.users)
    private_dir, private_tokens = prepare_private_round(opts.private_users)
    bin_dir = Path(sys.executable).parent
    load = os.getloadavg()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = token_script(Path(tmp) / "tokens.lua", tokens)
        cold_script = token_script(Path(tmp) / "private-cold.lua", private_tokens)
        cached_script = token_script(Path(tmp) / "private-cached.lua",
                                     private_tokens[:CACHED_TOKENS])
        port = _free_port()
        trivial = serve([str(bin_dir / "uvicorn"), "bench_api:trivial_app", "--app-dir",
                         str(Path(__file__).parent), "--port", str(port), "--log-level",
                         "warning", "--no-access-log"], port, "/ping")
        logged_port = _free_port()  # the same app with uvicorn's access log, as por serve has
        logged = serve([str(bin_dir / "uvicorn"), "bench_api:trivial_app", "--app-dir",
                        str(Path(__file__).parent), "--port", str(logged_port), "--log-level",
                        "info"], logged_port, "/ping")
        por_port = _free_port()
        db = Path(tmp) / "por.db"
        server = serve([str(bin_dir / "por"), "serve", "--db", f"sqlite:///{db}", "--rounds",
                        str(rounds_dir), "--port", str(por_port), "--proof-rate", "0"],
                       por_port, "/api/v1/ping")
        private: dict[int, subprocess.Popen[bytes]] = {}
        private_url: dict[int, str] = {}
        for cache in (0, 64):
            private_port = _free_port()
            private_url[cache] = f"http://127.0.0.1:{private_port}"
            private[cache] = serve([
                str(bin_dir / "por"), "serve", "--db", f"sqlite:///{Path(tmp) / 'p.db'}",
                "--rounds", str(private_dir), "--port", str(private_port), "--proof-rate",
                "0", "--private-cache", str(cache)], private_port, "/api/v1/ping")
        c = opts.connections
        lines = {
            YARDSTICK: (f"http://127.0.0.1:{port}/ping", None, trivial.pid, c),
            "trivial FastAPI endpoint, async def": (f"http://127.0.0.1:{port}/ping-async",
                                                    None, trivial.pid, c),
            LOGGED: (f"http://127.0.0.1:{logged_port}/ping", None, logged.pid, c),
            "por serve: /api/v1/ping": (f"http://127.0.0.1:{por_port}/api/v1/ping", None,
                                        server.pid, c),
            PROOFS: (f"http://127.0.0.1:{por_port}", script, server.pid, c),
            PRIVATE_COLD: (private_url[0], cold_script, private[0].pid, PRIVATE_CONNECTIONS),
            PRIVATE_CACHED: (private_url[64], cached_script, private[64].pid, c),
        }
        # The cached line's tokens, each asked once first: every measured request a hit.
        for token in private_tokens[:CACHED_TOKENS]:
            with urllib.request.urlopen(f"{private_url[64]}/api/v1/proofs/{token}",
                                        timeout=60) as answer:
                assert answer.status == 200
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in lines}
        try:
            # Interleaved: each endpoint in turn, ROUNDS times, both servers up throughout,
            # so a change in the machine's load hits every line alike; the median is kept.
            # Warm-up, not measured: the first proofs fill the kept upper levels (4,096
            # nodes) and the page cache, as a server that has run for a while has them.
            for name, (url, lua, pid, conns) in lines.items():
                run_wrk(wrk, url, opts.warmup if name == PROOFS else 2, conns, lua, pid)
            for _ in range(opts.rounds):
                for name, (url, lua, pid, conns) in lines.items():
                    # A cold private proof takes tenths of a second: a longer run.
                    seconds = 2 * opts.duration if name == PRIVATE_COLD else opts.duration
                    runs[name].append(run_wrk(wrk, url, seconds, conns, lua, pid))
        finally:
            for proc in (trivial, logged, server, *private.values()):
                proc.terminate()
                proc.wait()
        for name, measured in runs.items():
            best = sorted(measured, key=lambda r: r["rps"])[len(measured) // 2]
            results[name] = best
    load_end = os.getloadavg()
    yard = results[YARDSTICK]["rps"]
    yard_cpu = sorted(r["cpu_us"] for r in runs[YARDSTICK])[opts.rounds // 2]

    def median_cpu(name: str) -> float:
        return sorted(r["cpu_us"] for r in runs[name])[opts.rounds // 2]

    def fig(x: float) -> str:  # a cold private proof is about one a second: its decimals
        return f"{x:,.0f}" if x >= 100 else f"{x:.2f}" if x >= 1 else f"{x:.3g}"

    rows = "\n".join(
        f"| {name} | **{fig(r['rps'])}** | {fig(r['rps'] / yard)} | {r['mean_ms']:.1f} |"
        f" {r['p99_ms']:.1f} | {int(r['non2xx'])} | {median_cpu(name):,.0f} |"
        f" {fig(yard_cpu / median_cpu(name))} |"
        for name, r in results.items()
    )
    # Each round's lines run seconds apart: the ratio within a round is the least disturbed
    # by the load moving, so the target is judged on the median of the rounds' ratios.
    per_round = sorted(p["rps"] / y["rps"] for p, y in zip(runs[PROOFS], runs[YARDSTICK],
                                                          strict=True))
    ratio = per_round[len(per_round) // 2]
    cpu_ratio = yard_cpu / median_cpu(PROOFS)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = platform.processor() or platform.machine()
    loadavg = f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    load_after = f"{load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}"
    logged_ratio = results[PROOFS]["rps"] / results[LOGGED]["rps"]
    ping_ratio = results[PROOFS]["rps"] / results["por serve: /api/v1/ping"]["rps"]
    verdict = ("**met**" if ratio >= TARGET else
               f"**not met** ({ratio:.2f}x, {TARGET - ratio:.2f} short of {TARGET}x)")
    if not opts.dry_run:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"api-{opts.users:09d}u.json").write_text(json.dumps({
            "users": opts.users, "when": stamp, "load_start": load, "load_end": load_end,
            "duration_s": opts.duration, "connections": opts.connections, "runs": runs,
            "ratio_per_round": per_round, "ratio": ratio, "cpu_ratio": cpu_ratio,
            "private_users": opts.private_users, "private_assets": 4,
            "private_connections": PRIVATE_CONNECTIONS, "private_cached_tokens": CACHED_TOKENS,
        }, indent=1) + "\n")
    section = f"""{START}
## API: proof requests served by `por serve` (bench/bench_api.py)

{opts.users:,} users x 4 assets, a token issued to every user (`proof-tokens.bin`, binary
search), each request a random one of 10,000 tokens; the server reads the path from
`tree.bin`, checks the proof against the published root on the raw records (the upper
levels' checked text is kept for 4,096 nodes) and sends the JSON, byte for byte
`por liabilities prove`'s. One uvicorn worker per server (the same uvicorn, h11, asyncio),
rate limit off, `por serve`'s access log on (to /dev/null); wrk 1 thread,
{opts.connections} connections, {opts.duration} s per run after a warm-up ({opts.warmup} s of
proofs, 2 s of each other line), the five lines interleaved {opts.rounds} times (median run
shown), on loopback, all on the same {os.cpu_count()}
cores. Machine: {machine}, Python {platform.python_version()}, {stamp}, load average
{loadavg} at start, {load_after} at end (the machine is shared: the ratios are what carry).
CPU µs/request: the server process's user + system time over the run (all its threads)
divided by the requests answered; less disturbed by the other processes than the rate.

{HEADER}
{rows}

Target (issue 16): proofs at no less than {TARGET}x the yardstick's rate (the trivial
`def` endpoint, no access log): {verdict}, judged on the median of each round's ratio
({", ".join(f"{r:.2f}" for r in per_round)}); by server CPU per request: {cpu_ratio:.2f}x.
Against the trivial endpoint with uvicorn's access log: {logged_ratio:.2f}x; against
`por serve`'s own ping: {ping_ratio:.2f}x. {NOTE}

Private proofs by token (spec §16.16), same run: a private round of {opts.private_users:,}
users x 4 assets ({opts.private_users.bit_length() - 1} levels: each proof makes
{4 * (opts.private_users.bit_length() - 1)} range proofs and the server checks them all
before answering). Cold: a server keeping none (`--private-cache 0`), a random one of
{len(private_tokens):,} tokens per request, {PRIVATE_CONNECTIONS} connections (it makes at
most 2 at once), {2 * opts.duration} s per run. Cached: a server keeping the default 64,
{CACHED_TOKENS} tokens each asked once before, then asked again ({opts.connections}
connections): the answer is the kept bytes.
{END}"""
    print(section)
    if opts.dry_run:
        return
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
