"""The access log is ``por serve``'s own (``api.app.Edge``, logger ``por.access``): each line
is made from the redacted path, so no proof token reaches it by any road: a proof path in any
spelling, a path no route matched (a mistyped proof link), a query string, another method, a
failing request (500) and its traceback. Proof requests are answered in front of the router
(``api.app.ProofRoute``): the documented route answers the same bytes and headers."""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
from api_world import World, build_world
from fastapi.testclient import TestClient

import api.app as app_module
from api.app import Settings, _RedactTokens, access_line, create_app

# Each: the method and the path, with {t} where the token goes.
ROADS = (
    ("GET", "/api/v1/proofs/{t}"),
    ("GET", "/api/v1//proofs/{t}"),
    ("GET", "/API/V1/PROOFS/{t}"),
    ("GET", "/api/v1/%70roofs/{t}"),
    ("GET", "/api/v1/proofs/{t}?again={t}"),
    ("GET", "/api/v1/proofs/{t}/extra"),
    ("GET", "/api/v1/proof/{t}"),  # mistyped: no route
    ("GET", "/{t}"),
    ("GET", "/?token={t}"),
    ("GET", "/api/v1/rounds?token={t}"),
    ("GET", "/api/v1/rounds/{t}"),  # a round id nobody published: the route's 404
    ("HEAD", "/api/v1/proofs/{t}"),  # answered as GET without a body (api.app.Edge)
    ("POST", "/api/v1/proofs/{t}"),
    ("DELETE", "/api/v1/proofs/{t}"),
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path, None)


def test_no_road_takes_a_token_into_the_access_log(world: World, access_log: list[str]
                                                   ) -> None:
    settings = Settings(rounds_dir=world.rounds_dir, proof_rate_per_minute=0)
    real = world.rounds["2026-10"].tokens["user-001"]
    used = [real]
    with TestClient(create_app(settings)) as client:
        for method, road in ROADS:
            for token in (real, secrets.token_hex(16)):
                used.append(token)
                answer = client.request(method, road.format(t=token))
                assert answer.status_code in (200, 404, 405), (method, road)
    log = "\n".join(access_log)
    assert len(access_log) == 2 * len(ROADS), log  # every request has its line
    assert [t for t in used if t in log] == [], log
    assert 'GET /api/v1/proofs/<redacted> HTTP/1.1" 200' in log
    assert 'GET /api/v1/proofs/<redacted>?<query> HTTP/1.1" 404' in log
    assert 'GET <path not logged> HTTP/1.1" 404' in log
    assert 'POST /api/v1/proofs/<redacted> HTTP/1.1" 405' in log


def test_a_failing_proof_request_logs_no_token(world: World, access_log: list[str],
                                               monkeypatch: Any) -> None:
    """Fault injected (no real fault is reachable): the token index read raises with the
    request's path in its message, as a bug might."""
    app = create_app(Settings(rounds_dir=world.rounds_dir, proof_rate_per_minute=0))
    token = world.rounds["2026-10"].tokens["user-001"]

    def broken() -> None:
        raise RuntimeError(f"cannot read for GET /api/v1/proofs/{token}")

    monkeypatch.setattr(app.state.publication, "token_indexes", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get(f"/api/v1/proofs/{token}")
    assert answer.status_code == 500
    assert answer.headers["x-content-type-options"] == "nosniff"  # headers on a 500 too
    assert access_log == [
        'testclient:50000 - "GET /api/v1/proofs/<redacted> HTTP/1.1" 500'], access_log
    # What uvicorn writes to its error log for it: the traceback, through the filter
    # create_app puts on uvicorn.error.
    try:
        broken()
    except RuntimeError:
        record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                   "Exception in ASGI application\n", None, sys.exc_info())
    assert any(isinstance(f, _RedactTokens) for f in logging.getLogger("uvicorn.error").filters)
    _RedactTokens().filter(record)
    text = logging.Formatter().format(record)
    assert "RuntimeError: cannot read for GET /api/v1/proofs/<redacted>" in text
    assert token not in text


def test_a_log_line_cannot_be_forged_through_the_path() -> None:
    scope = {"type": "http", "method": "GET", "http_version": "1.1", "path":
             "/static/x\nINFO: 1.2.3.4 - \"GET /admin\" 200", "query_string": b"",
             "client": ("127.0.0.1", 5)}
    line = access_line(scope, 200)
    assert "\n" not in line and "%0A" in line


def test_proof_route_and_documented_route_answer_alike(world: World, monkeypatch: Any
                                                       ) -> None:
    """ProofRoute answers at the root; under a root path the router's documented route does:
    same status, bytes and headers, for a proof and for an unknown token."""
    settings = Settings(rounds_dir=world.rounds_dir, proof_rate_per_minute=0)
    token = world.rounds["2026-10"].tokens["user-002"]
    routed_answers = []
    real_init = app_module._Answer.__init__

    def counting(self: Any, *args: Any) -> None:
        routed_answers.append(args[0])
        real_init(self, *args)

    monkeypatch.setattr(app_module._Answer, "__init__", counting)
    with (TestClient(create_app(settings)) as client,
          TestClient(create_app(settings), root_path="/por") as routed):
        for path in (f"/api/v1/proofs/{token}", "/api/v1/proofs/" + "0" * 32):
            got, again = client.get(path), routed.get(path)
            assert (got.status_code, got.content, dict(got.headers)) == (
                again.status_code, again.content, dict(again.headers)), path
            assert got.headers["cache-control"] == "no-store"
            assert got.headers["content-length"] == str(len(got.content))
        assert got.content == b'{"detail":"Not Found"}'
    assert routed_answers == [200, 404]  # the router's route made the second answers
