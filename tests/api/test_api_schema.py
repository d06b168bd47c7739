"""schemathesis against the app's own OpenAPI schema, over a real published world on
SQLite: no answer is a server error, and every answer matches the schema (status code,
content type, body)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from api_world import build_world
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema

from api.app import Settings, create_app
from por.store.db import open_store


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    base: Path = tmp_path_factory.mktemp("schema-world")
    url = f"sqlite:///{base / 'por.db'}"
    engine = open_store(url)
    world = build_world(base, engine)
    engine.dispose()
    app = create_app(
        Settings(
            database_url=url,
            rounds_dir=world.rounds_dir,
            keylist=world.keylist,
            proof_rate_per_minute=0,
        )
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_api_conforms_to_its_schema(api_schema: BaseSchema) -> None:
    # schemathesis's pytest plugin does not run under this pytest (9.x), so each operation's
    # strategy is driven by Hypothesis directly; the checks are schemathesis's own.
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation the schema cannot describe fails
        operations.append(result.ok())
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate()

        check()
