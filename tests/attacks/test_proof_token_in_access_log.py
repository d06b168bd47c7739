"""Attack: read users' proof tokens from the server's log (issue 10: ``/api/v1//proofs/<token>``
was logged in clear; a token in a query string or a mistyped proof link was too, until issue
16). Defence: ``por serve``'s access log is its own (``api.app.Edge``, uvicorn's is off): each
line is made from the path cut at any proofs segment, a failed answer's path is not logged
unless it is a proof path (then redacted), and no query string is ever logged; uvicorn's
error log keeps its redaction filter. A real ``por serve`` is started on loopback, every
spelling is requested, and its output is read (tests/support/browser_setup.py's
``por_serve``, as the browser tests start it)."""

from __future__ import annotations

import logging
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from browser_setup import por_serve

from api.app import _RedactTokens, redact_path

SPELLINGS = (
    "/api/v1/proofs/{t}",
    "/api/v1//proofs/{t}",
    "//api/v1/proofs/{t}",
    "/api/v1/proofs//{t}",
    "/API/V1/PROOFS/{t}",
    "/api/v1/%70roofs/{t}",
    "/api/v1/%2570roofs/{t}",
    "/api/v1/proofs%2F{t}",
    "/api/v1/proofs/{t}?x=1",
    "/api/v1/proofs/{t}/extra",
    "/api/v2/proofs/{t}",
)
# Not proof paths: no redaction of the path finds the token there; the log never shows
# them (a failed answer's path, a query string).
OTHER_ROADS = ("/api/v1/proof/{t}", "/?token={t}", "/api/v1/rounds?token={t}")


def test_every_spelling_of_a_proof_path_is_redacted() -> None:
    token = "0123456789abcdef0123456789abcdef"
    for form in SPELLINGS:
        assert token not in redact_path(form.format(t=token)), form
    assert redact_path("/api/v1/rounds/2026-11") == "/api/v1/rounds/2026-11"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/api/v1//proofs/{token}", "1.1", 404), None,
    )
    _RedactTokens().filter(record)
    assert token not in record.getMessage()
    assert "/api/v1/proofs/<redacted>" in record.getMessage()


def test_served_access_log_never_holds_a_token(tmp_path: Path) -> None:
    tokens: list[str] = []
    output: list[str] = []
    with por_serve(f"sqlite:///{tmp_path / 'por.db'}", None, extra=("--proof-rate", "0"),
                   log=output) as origin:
        for form in SPELLINGS + OTHER_ROADS:
            token = secrets.token_hex(16)
            tokens.append(token)
            try:
                urllib.request.urlopen(origin + form.format(t=token), timeout=10).close()
            except urllib.error.HTTPError as e:
                assert e.code in (404, 405, 422), (form, e.code)
    [log] = output
    assert log.count(' - "GET ') >= len(SPELLINGS + OTHER_ROADS) + 1, log  # every request logged
    assert log.count("/proofs/<redacted>") >= 2, log
    leaked = [t for t in tokens if t in log]
    assert leaked == [], log
