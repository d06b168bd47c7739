"""Generator of the committed private attestation vectors, ``tests/vectors/attestation-v4.json``
(spec §13.7): whole bundles of a private round attested by a ``por-attestation`` version 4
payload, one valid per scheme version (full hiding, hybrid) and one per attack the spec
names, each named after it, with its verdict, exit code and finding codes.

Generate-then-verify: the honest payload is ``por attest sign``'s (:func:`sign_round` on a
real private tree, reserves signed and read on an in-process EVM); an attack edits it and
the exchange's own key signs it again (a dishonest exchange, not a forger), and every
bundle's log is the exchange side's (:mod:`por.log.appender`: the payload as entry 0 with
its signed tree head and inclusion proof), so each vector differs from a well-formed bundle
only by its attack. ``test_attestation_vectors.py`` runs each through ``por-verify bundle``.
Run ``python tests/attest/attestation_vectorgen.py`` to rewrite the file. Not byte-for-byte
reproducible (the keys, wallets and chain are fresh each run): the verdicts are.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from attest_helpers import T0, World, make_world
from private_attest_world import (
    PrivateRound,
    build_private_round,
    exact_eth,
    sign_private,
)

from por.attest.rounds import load_round
from por.log import appender
from por.store.db import open_store
from verifier.attestation import bundle as layout
from verifier.attestation.model import solvency_line
from verifier.private.proof import PrivateRoot, canonical_bytes

OUT = Path(__file__).parents[1] / "vectors" / "attestation-v4.json"
NOW = "2026-12-01T00:00:00Z"
Edit = Callable[[dict[str, Any]], None]


def _honest(w: World, r: PrivateRound, tmp: Path, round_id: str) -> dict[str, Any]:
    engine = open_store(f"sqlite:///{tmp / f'{round_id}.db'}")
    try:
        sign_private(engine, w, r, round_id, 0)
        payload: dict[str, Any] = json.loads(load_round(engine, round_id).signed.payload)
        return payload
    finally:
        engine.dispose()


def _bundle(w: World, tmp: Path, name: str, payload: dict[str, Any], root: bytes,
            reserves: bytes) -> dict[str, str]:
    """The bundle of a log whose only entry is ``payload``, signed by the exchange."""
    signed = w.exchange_key.sign_document(payload)
    engine = open_store(f"sqlite:///{tmp / f'log-{name}.db'}")
    try:
        appender.append(engine, payload["exchange"], signed.payload, w.exchange_key,
                        T0 + timedelta(days=1), keylist=w.keylist)
        head = appender.tree_head(engine, 1).signed.to_json()
        inclusion = appender.prove_inclusion(engine, 0, 1).to_json() + "\n"
    finally:
        engine.dispose()
    return {layout.ATTESTATION_FILE: signed.to_json(), layout.ROOT_FILE: root.decode(),
            layout.RESERVES_FILE: reserves.decode(), layout.KEYLIST_FILE: w.keylist.decode(),
            layout.TREE_HEAD_FILE: head, layout.INCLUSION_FILE: inclusion}


def cases() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        w = make_world(tmp)
        full = build_private_round(w, tmp, "2026-11-28-p4")
        hybrid = build_private_round(w, tmp, "2026-11-28-p4h", hidden_levels=2)
        honest = {"full": _honest(w, full, tmp, "2026-11-28-p4"),
                  "hybrid": _honest(w, hybrid, tmp, "2026-11-28-p4h")}
        rounds = {"full": full, "hybrid": hybrid}
        out: list[dict[str, Any]] = []

        def case(name: str, why: str, verdict: str, exit_code: int, codes: list[str] | str,
                 edit: Edit | None = None, root_edit: Callable[[PrivateRoot], bytes] | None
                 = None, which: str = "full") -> None:
            """``codes``: the findings (exit 1), or a fragment of the error (exit 2)."""
            payload = copy.deepcopy(honest[which])
            r = rounds[which]
            if edit is not None:
                edit(payload)
            root = r.root_bytes if root_edit is None else root_edit(r.root)
            found = {"codes": codes} if isinstance(codes, list) else {"error": codes}
            out.append({"name": name, "why": why, "verdict": verdict,
                        "exit_code": exit_code, **found,
                        "files": _bundle(w, tmp, name, payload, root,
                                         r.reserves.read_bytes())})

        lia = honest["full"]["liabilities"]
        spot = {k: lia[k] for k in ("root_hash", "leaf_count", "totals")} | {
            "assets": [{"symbol": a["symbol"], "decimals": a["decimals"]}
                       for a in lia["assets"]]}
        e = full.root.assets[0].unit_exponent

        def version(v: int, liabilities: dict[str, Any] | None = None) -> Edit:
            def edit(p: dict[str, Any]) -> None:
                p["version"] = v
                if liabilities is not None:
                    p["liabilities"] = copy.deepcopy(liabilities)
                if v == 3:  # the margin lines' own fields: only the liabilities are wrong
                    for line in p["solvency"]:
                        line |= {"total_equity": line["liabilities"], "total_debt": "0",
                                 "total_collateral": "0"}
            return edit

        def set_in(path: tuple[Any, ...], value: Any) -> Edit:
            def edit(p: dict[str, Any]) -> None:
                target = p
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = value
            return edit

        def rounded_down(p: dict[str, Any]) -> None:
            stated = (exact_eth(8) + 8 * 7) // 10**e * 10**e  # the exact sum, a unit down
            assert stated < full.root.totals[0] * 10**e
            p["solvency"][0] = solvency_line("ETH", 18, int(p["solvency"][0]["reserves"]),
                                             stated).to_dict()

        def smaller_unit(p: dict[str, Any]) -> None:
            p["liabilities"]["assets"][0]["unit_exponent"] = e - 1
            p["solvency"][0] = solvency_line("ETH", 18, int(p["solvency"][0]["reserves"]),
                                             full.root.totals[0] * 10**(e - 1)).to_dict()

        def btc_total_zero(p: dict[str, Any]) -> None:
            p["liabilities"]["totals"][1] = "0"
            p["solvency"][1] = solvency_line("BTC", 8, 0, 0).to_dict()
            p["all_covered"] = True

        def btc_total_zero_in_root(root: PrivateRoot) -> bytes:
            return canonical_bytes(root.to_dict() | {"totals": [str(root.totals[0]), "0"]})

        case("valid-private-attestation-v4", "a full-hiding private round (scheme version 1)"
             " as por attest sign writes it", "VERIFIED", 0, [])
        case("valid-private-attestation-v4-hybrid", "a hybrid private round (scheme version"
             " 2, L = 2) as por attest sign writes it", "VERIFIED", 0, [], which="hybrid")
        case("v4-with-spot-liabilities", "version 4 whose liabilities are a spot root's",
             "malformed", 2, "top_hash", version(4, spot))
        case("v2-with-private-liabilities", "version 2 (spot) whose liabilities are private",
             "malformed", 2, "unknown field(s) ['blindings', 'scheme', 'top_hash'",
             version(2))
        case("v3-with-private-liabilities", "version 3 (margin) whose liabilities are private",
             "malformed", 2, "liabilities", version(3))
        case("v2-over-private-root", "a well-formed version 2 payload (spot liabilities) over"
             " the private root.json: read by the spot parser, malformed", "malformed", 2,
             "root.json: unknown field(s) ['blindings']", version(2, spot))
        case("private-liabilities-with-round", "the private liabilities carrying a round "
             "field (the payload's own round is the round)", "malformed", 2,
             "unknown field 'round'",
             set_in(("liabilities", "round"), "2026-11-28-p4"))
        case("liabilities-rounded-down", "ETH's liabilities stated as the exact sum rounded"
             " down, below committed total x 10^e", "FAILED", 1, ["solvency-figure"],
             rounded_down)
        case("unit-exponent-lowered", "the same committed ETH total read in units of "
             "10^(e-1), its line consistent with that", "FAILED", 1,
             ["liabilities-figure", "root-opening"], smaller_unit)
        case("totals-not-the-roots", "a smaller BTC total in the attestation only, its line"
             " consistent with it", "FAILED", 1, ["liabilities-figure", "root-opening"],
             btc_total_zero)
        case("totals-not-the-roots-in-root-json-too", "the smaller BTC total in both the "
             "attestation and root.json, root hash kept", "FAILED", 1, ["root-opening"],
             btc_total_zero, btc_total_zero_in_root)
        case("blinding-not-the-roots", "another ETH blinding in the attestation",
             "FAILED", 1, ["liabilities-figure", "root-opening"],
             set_in(("liabilities", "blindings", 0), "11" * 32))
        case("wrong-top-hash", "a top_hash that is not the tree's top node's", "FAILED", 1,
             ["root-opening"], set_in(("liabilities", "top_hash"), "22" * 32))
        return {"about": "Private attestations (por-attestation version 4, spec §13.7) as "
                "whole bundles with their verdicts; generated by "
                "tests/attest/attestation_vectorgen.py.",
                "pin": w.exchange_key.public.key_id, "now": NOW, "vectors": out}


if __name__ == "__main__":
    OUT.write_text(json.dumps(cases(), indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {OUT}\n")
