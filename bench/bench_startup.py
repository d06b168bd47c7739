"""Start-up time of the verifier's commands beside ``python -c "import click, rich.console"``.

Issue 12: ``por-verify proof`` (a committed vector, checked against its root) should start
within 3x the time of importing click and rich, measured in the same run. Like hyperfine:
each command runs many times, interleaved with the yardstick (so load drifts hit both), after
warm-up runs; the median and the spread are reported, with the load average at start and end.

Writes its own section of bench/README.md (between the ``bench_startup`` markers) and
bench/results/startup.json.

Run: .venv/bin/python bench/bench_startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
README = HERE / "README.md"
RESULTS = HERE / "results" / "startup.json"
VECTORS = HERE.parent / "tests" / "vectors" / "liabilities.json"
START = "<!-- bench_startup:start -->"
END = "<!-- bench_startup:end -->"
BIN = Path(sys.executable).parent
TARGET_RATIO = 3.0  # issue 12


def _commands(proof: Path, root: str) -> dict[str, list[str]]:
    return {
        'python -c "import click, rich.console" (yardstick)':
            [sys.executable, "-c", "import click, rich.console"],
        "por-verify proof (committed vector, --root)":
            [str(BIN / "por-verify"), "proof", str(proof), "--root", root],
        "por-verify --help": [str(BIN / "por-verify"), "--help"],
        "por --help": [str(BIN / "por"), "--help"],
    }


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(runs: int, warmup: int) -> dict[str, object]:
    vector = next(v for v in json.loads(VECTORS.read_text())["vectors"]
                  if v["name"] == "valid-alice")
    with tempfile.TemporaryDirectory() as tmp:
        proof = Path(tmp) / "proof.json"
        proof.write_text(json.dumps(vector["proof"]))
        commands = _commands(proof, vector["published_root"])
        load_start = os.getloadavg()
        for argv in commands.values():
            for _ in range(warmup):
                _time(argv)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved: a load spike hits every command alike
            for name, argv in commands.items():
                times[name].append(_time(argv))
        load_end = os.getloadavg()
    yardstick = statistics.median(next(iter(times.values())))
    rows = [{"command": name, "median_s": statistics.median(t), "min_s": min(t),
             "max_s": max(t), "ratio": statistics.median(t) / yardstick}
            for name, t in times.items()]
    return {"when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "runs": runs, "warmup": warmup,
            "load_start": load_start, "load_end": load_end, "rows": rows}


def render(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    load_start = " ".join(f"{x:.2f}" for x in result["load_start"])  # type: ignore[attr-defined]
    load_end = " ".join(f"{x:.2f}" for x in result["load_end"])  # type: ignore[attr-defined]
    table = "\n".join(
        f"| {r['command']} | **{r['median_s'] * 1000:.0f}** | {r['min_s'] * 1000:.0f} "
        f"| {r['max_s'] * 1000:.0f} | {r['ratio']:.2f} |" for r in rows)
    proof_ratio = next(r["ratio"] for r in rows if r["command"].startswith("por-verify proof"))
    verdict = "met" if proof_ratio <= TARGET_RATIO else "NOT met"
    return f"""{START}
## Start-up: `por-verify proof` beside importing click and rich (bench/bench_startup.py)

Each command run {result['runs']} times as a fresh process, interleaved with the yardstick
(after {result['warmup']} warm-up runs each); wall time per run, in milliseconds. Machine:
{result['machine']}, {result['cpus']} cores, Python {result['python']}, {result['when']}; load
average {load_start} at start, {load_end} at end: the machine was shared with other
engineers' builds and test runs, so absolute figures are inflated and the ratio to the
same-run yardstick is the figure that carries over.

| command | median ms | min ms | max ms | x yardstick (medians) |
|---|---|---|---|---|
{table}

Target (issue 12): `por-verify proof` within {TARGET_RATIO:.0f}x the yardstick: {verdict}
({proof_ratio:.2f}x).
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true", help="Print; do not write files.")
    args = parser.parse_args()
    result = measure(args.runs, args.warmup)
    section = render(result)
    print(section)
    if args.no_readme:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    text = README.read_text()
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
