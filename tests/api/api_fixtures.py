"""The API tests' fixtures: the store fixtures (SQLite and a real PostgreSQL) and a
published world (tests/api/api_world.py) on each. Test modules import them with
``from api_fixtures import *``, as tests/store does with its fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_world import World, build_world
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import Settings, create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))
from store_fixtures import *  # noqa: F403 (the store fixtures: SQLite and PostgreSQL)


@pytest.fixture
def world(store: Engine, tmp_path: Path) -> World:
    """Two published rounds recorded in the store (SQLite, then PostgreSQL)."""
    return build_world(tmp_path, store)


@pytest.fixture
def client(world: World, store: Engine) -> Iterator[TestClient]:
    """The app over ``world``, through httpx, without a rate limit."""
    settings = Settings(
        database_url=store.url.render_as_string(hide_password=False),
        rounds_dir=world.rounds_dir,
        keylist=world.keylist,
        auditor_keys=(world.auditor_key_file,) if world.auditor_key_file else (),
        proof_rate_per_minute=0,
    )
    with TestClient(create_app(settings)) as c:
        yield c
