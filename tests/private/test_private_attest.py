"""A private round is not attestable yet (spec §16.12): `por attest sign` and `cosign` (and
the API and `por reserves`) read root.json through `parse_any_summary`, which refuses a
private root with what to run instead, so no attestation carries a private round's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785

from verifier.errors import FormatError
from verifier.liabilities.margin_round import parse_any_summary

DOC = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())


@pytest.mark.parametrize("key", ["round_root", "round_root_hybrid"])
def test_a_private_root_is_refused_with_the_auditors_command(key: str) -> None:
    with pytest.raises(FormatError, match="por-verify liabilities"):
        parse_any_summary(rfc8785.dumps(DOC[key]))
