"""Fuzz /api/v1/ from its own OpenAPI schema: no 5xx, and responses match the schema.

Schemathesis generates requests for every operation in /api/schema/ and calls the WSGI
app in-process, signed in as a coordinator (the role that reaches the most endpoints).
The checks are the two the API promises: no server error, and every response body
conforms to the documented schema. Writes go through the services, so generated
nonsense must come back as a 4xx, never a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance


def _load_schema() -> Any:
    """The schema drf-spectacular serves at /api/schema/, built in-process (no request
    and no database needed), bound to the WSGI app so cases call it directly."""
    from drf_spectacular.generators import SchemaGenerator

    from peercoach.config.wsgi import application

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None,
                                                                          public=True))
    loaded.app = application
    return loaded


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Any:
    """Calling the WSGI app directly fires request_started/finished, whose handler closes
    the database connection (on PostgreSQL that ends the test's transaction). Django's
    test client disconnects it for the same reason; so do we, for this test only."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(world: Any) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=world.coordinator)[0].key


schema = _load_schema()


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=[not_a_server_error,
                                             response_schema_conformance])
