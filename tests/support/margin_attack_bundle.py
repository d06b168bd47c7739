"""A published margin round's bundle and the tools to forge one, for the margin
attestation attack tests (spec §13.6): the exchange itself re-signing a payload it edited
(a dishonest exchange, not a forger), and the verifier's check of the result."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from attest_helpers import World, make_world
from margin_attest_world import MarginRound, build_margin_round, sign_publish

from por.store.db import open_store
from verifier.attestation.bundle import (
    ATTESTATION_FILE,
    BundleOptions,
    BundleReport,
    read_bundle,
    verify_bundle,
)
from verifier.signed.envelope import SignedDocument

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def published(tmp: Path) -> tuple[World, MarginRound, Path]:
    """A margin round m1, signed, co-signed and published to ``tmp/bundle-m1``."""
    w = make_world(tmp)
    r = build_margin_round(w, tmp, "m1")
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    try:
        sign_publish(engine, w, r, "m1", 0, tmp / "bundle-m1")
    finally:
        engine.dispose()
    return w, r, tmp / "bundle-m1"


def check(w: World, directory: Path) -> BundleReport:
    """``por-verify bundle`` with the nodes, the auditor's key and a pin."""
    return verify_bundle(read_bundle(directory), BundleOptions(
        readers=w.readers, auditors=(w.auditor_key.public,),
        pinned_key_id=w.exchange_key.public.key_id, now=NOW))


def resigned_copy(w: World, source: Path, out: Path,
                  edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the bundle whose attestation payload ``edit`` changed and the exchange's
    own key signed again."""
    shutil.copytree(source, out)
    doc = SignedDocument.from_json((out / ATTESTATION_FILE).read_bytes())
    payload = json.loads(doc.payload)
    edit(payload)
    signed = w.exchange_key.sign_document(json.loads(rfc8785.dumps(payload)))
    (out / ATTESTATION_FILE).write_text(signed.to_json())
    return out


def codes(report: BundleReport) -> set[str]:
    return {f.code for f in report.findings}
