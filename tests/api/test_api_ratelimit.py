"""Proof requests are rate-limited per client; the rest of the API is not."""

from __future__ import annotations

from pathlib import Path

from api_world import World, build_world
from fastapi.testclient import TestClient

from api.app import Settings, create_app
from api.ratelimit import RateLimiter


def test_bucket_refills_at_its_rate() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.allow("a", now=0.0) == 0.0
    assert limiter.allow("a", now=0.0) == 0.0
    wait = limiter.allow("a", now=0.0)
    assert 0.9 < wait <= 1.0
    assert limiter.allow("b", now=0.0) == 0.0  # another client has its own bucket
    assert limiter.allow("a", now=1.01) == 0.0


def test_memory_stays_bounded_under_many_clients() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_clients=100)
    for i in range(1000):
        limiter.allow(f"client-{i}", now=0.0)
    assert len(limiter._buckets) == 100


def test_proof_requests_beyond_the_burst_get_429(tmp_path: Path) -> None:
    world: World = build_world(tmp_path, None)
    settings = Settings(rounds_dir=world.rounds_dir, proof_rate_per_minute=2, proof_burst=3)
    token = world.rounds["2026-10"].tokens["user-001"]
    with TestClient(create_app(settings)) as client:
        codes = [client.get(f"/api/v1/proofs/{token}").status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        limited = client.get("/api/v1/proofs/anything-at-all")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        # Only proofs are limited: the public figures stay available.
        assert client.get("/api/v1/rounds").status_code == 200
