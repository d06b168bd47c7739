"""HEAD on every GET path is answered as GET without a body (``api.app.Edge``, RFC 9110
§9.3.2): the same status and headers, for the page, a proof, a JSON route, a static file
and a 404; a proof HEAD is rate-limited like a GET (it tells a valid token from another
just as well), and the access log redacts its token the same way."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from api_world import World, build_world
from fastapi.testclient import TestClient

from api.app import Edge, Settings, create_app


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("head"), None)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(rounds_dir=world.rounds_dir,
                                        proof_rate_per_minute=0))) as c:
        yield c


def _paths(world: World) -> list[tuple[str, int]]:
    token = world.rounds["2026-10"].tokens["user-001"]
    return [
        ("/", 200),
        ("/rounds/2026-10", 200),
        (f"/api/v1/proofs/{token}", 200),
        (f"/api/v1/proofs/{secrets.token_hex(16)}", 404),  # a token that opens nothing
        ("/api/v1/rounds", 200),
        ("/api/v1/rounds/2026-10/liabilities-root", 200),
        ("/api/v1/rounds/no-such-round", 404),
        ("/no/such/path", 404),
        ("/static/verify.js", 200),
    ]


def test_head_answers_as_get_without_a_body(world: World, client: TestClient) -> None:
    for path, status in _paths(world):
        got, head = client.get(path), client.head(path)
        assert (got.status_code, head.status_code) == (status, status), path
        assert head.content == b"", path
        assert got.content, path  # the GET has the body the HEAD leaves out
        assert dict(head.headers) == dict(got.headers), path
        assert head.headers["content-security-policy"], path  # Edge's headers too


def test_other_methods_are_still_refused(world: World, client: TestClient) -> None:
    token = world.rounds["2026-10"].tokens["user-001"]
    for method in ("POST", "PUT", "DELETE"):
        assert client.request(method, f"/api/v1/proofs/{token}").status_code == 405
    assert client.request("POST", "/api/v1/rounds").status_code == 405


async def _asgi(app: Any, method: str, path: str) -> list[dict[str, Any]]:
    """The ASGI messages ``app`` sends for one request: what a server writes."""
    sent: list[dict[str, Any]] = []
    asked: list[bool] = []

    async def receive() -> dict[str, Any]:
        if asked:  # after the (empty) request body, the client stays until the answer ends
            await anyio.sleep_forever()
        asked.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path, "raw_path": path.encode(),
               "query_string": b"", "headers": [], "http_version": "1.1",
               "scheme": "http", "server": ("test", 80), "client": ("1.2.3.4", 5),
               "root_path": ""}, receive, send)
    return sent


@pytest.mark.anyio
async def test_no_body_byte_is_sent_for_head_by_the_asgi_layer(world: World) -> None:
    """Below any client: the messages themselves carry no body (a server that did not drop
    a HEAD's body would write it)."""
    app = create_app(Settings(rounds_dir=world.rounds_dir, proof_rate_per_minute=0))
    assert isinstance(app.build_middleware_stack(), Edge)
    for path, status in _paths(world):
        messages = await _asgi(app.build_middleware_stack(), "HEAD", path)
        assert messages[0]["status"] == status, path
        assert all(m.get("body", b"") == b"" for m in messages[1:]), path
        assert messages[-1].get("more_body", False) is False, path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_proof_head_is_rate_limited_like_a_get(world: World) -> None:
    token = world.rounds["2026-10"].tokens["user-001"]
    app = create_app(Settings(rounds_dir=world.rounds_dir, proof_rate_per_minute=1,
                              proof_burst=2))
    with TestClient(app) as client:
        assert client.head(f"/api/v1/proofs/{token}").status_code == 200
        assert client.head(f"/api/v1/proofs/{secrets.token_hex(16)}").status_code == 404
        limited = client.head(f"/api/v1/proofs/{token}")
        assert limited.status_code == 429 and limited.content == b""
        assert limited.headers["retry-after"]
        assert client.get(f"/api/v1/proofs/{token}").status_code == 429  # one budget


def test_the_access_log_redacts_a_heads_token(world: World, access_log: list[str]) -> None:
    real = world.rounds["2026-10"].tokens["user-002"]
    wrong = secrets.token_hex(16)
    with TestClient(create_app(Settings(rounds_dir=world.rounds_dir,
                                        proof_rate_per_minute=0))) as client:
        for path in (f"/api/v1/proofs/{real}", f"/api/v1/proofs/{wrong}",
                     f"/api/v1//PROOFS/{real}?t={real}", f"/{real}"):
            client.head(path)
    log = "\n".join(access_log)
    assert len(access_log) == 4, log
    assert real not in log and wrong not in log, log
    assert 'HEAD /api/v1/proofs/<redacted> HTTP/1.1" 200' in log
    assert 'HEAD /api/v1/proofs/<redacted> HTTP/1.1" 404' in log
    assert 'HEAD <path not logged> HTTP/1.1" 404' in log
