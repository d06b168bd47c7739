"""A private round is attestable (spec §13.7): one reader of every scheme's root.json
(`verifier.attestation.model.parse_any_summary`) gives the private root, and the version 4
attestation's `liabilities` object is root.json field for field less `round`, parsed by the
private scheme's strict reader. The public-scheme reader (`margin_round.parse_any_summary`,
below the private package) still refuses a private root, naming the reader to use.

The figures: liabilities per asset = committed total x 10^e base units (never below the
exact ones, each balance being rounded up before it was committed, §16.3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from verifier.attestation.model import (
    LiabilitiesFigures,
    liabilities_figures,
    parse_any_summary,
    private_liabilities,
)
from verifier.errors import FormatError
from verifier.liabilities.margin_round import parse_any_summary as parse_public_summary
from verifier.private.proof import PrivateRoot

DOC = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())
ROOTS = ["round_root", "round_root_hybrid"]


@pytest.mark.parametrize("key", ROOTS)
def test_the_public_reader_refuses_a_private_root_and_names_the_one_to_use(key: str) -> None:
    with pytest.raises(FormatError, match="parse_any_summary"):
        parse_public_summary(rfc8785.dumps(DOC[key]))


@pytest.mark.parametrize("key", ROOTS)
def test_the_reader_of_every_scheme_reads_a_private_root(key: str) -> None:
    root = parse_any_summary(rfc8785.dumps(DOC[key]))
    assert isinstance(root, PrivateRoot)
    assert root.to_dict() == DOC[key]


@pytest.mark.parametrize("key", ROOTS)
def test_private_liabilities_object_round_trips(key: str) -> None:
    root = PrivateRoot.from_json(rfc8785.dumps(DOC[key]))
    figures = LiabilitiesFigures.of_private(root, bytes(range(32)))
    obj = figures.to_dict()
    assert "round" not in obj and obj["top_hash"] == bytes(range(32)).hex()
    assert {k: v for k, v in obj.items() if k != "top_hash"} | {"round": root.round_id} == DOC[key]
    again = LiabilitiesFigures.from_dict(json.loads(json.dumps(obj)), "liabilities",
                                         private_round=root.round_id)
    assert again == figures and again.kind == "private"
    assert figures.totals == private_liabilities(root) == liabilities_figures(root).totals
    assert figures.totals == tuple(t * 10**a.unit_exponent
                                   for t, a in zip(root.totals, root.assets, strict=True))


@pytest.mark.parametrize("change", [
    {"round": "2026-11-28"},  # the payload's round is the round
    {"extra": 1},  # unknown field
    {"totals": None},  # wrong type
    {"hidden_levels": 1},  # a version 1 root has no L
    {"version": 3},  # not a private scheme version
    {"top_hash": "00"},  # not 32 bytes
])
def test_a_malformed_private_liabilities_object_is_refused(change: dict[str, Any]) -> None:
    root = PrivateRoot.from_json(rfc8785.dumps(DOC["round_root"]))
    obj = LiabilitiesFigures.of_private(root, bytes(32)).to_dict() | change
    with pytest.raises(FormatError):
        LiabilitiesFigures.from_dict(obj, "liabilities", private_round=root.round_id)


def test_a_private_liabilities_object_without_its_top_hash_is_refused() -> None:
    root = PrivateRoot.from_json(rfc8785.dumps(DOC["round_root"]))
    obj = LiabilitiesFigures.of_private(root, bytes(32)).to_dict()
    del obj["top_hash"]
    with pytest.raises(FormatError, match="top_hash"):
        LiabilitiesFigures.from_dict(obj, "liabilities", private_round=root.round_id)
