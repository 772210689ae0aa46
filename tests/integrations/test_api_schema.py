"""The status API against its own OpenAPI schema: every operation, with values the schema allows
and values it forbids, never answers 5xx, answers only documented statuses and bodies, and
refuses what the schema forbids."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from integrations.models import LogEntry, Task
from tests.conftest import build_integration

schema = schemathesis.from_wsgi(
    "/api/schema/?format=json",
    get_wsgi_application(),
    data_generation_methods=[schemathesis.DataGenerationMethod.positive, schemathesis.DataGenerationMethod.negative],
)


@schema.hook("filter_query")
def only_queries_a_url_can_carry(context, query):
    """A parameter given an empty list of values is left out of the URL, so such a "negative"
    case sends a valid request (e.g. ``{"": [], "flow": 1}`` goes as ``?flow=1``)."""
    return not any(value == [] for value in (query or {}).values())


CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
)


@pytest.fixture
def wsgi_calls_share_the_test_transaction():
    """Each WSGI request would close the database connection at its end, as in production; inside a
    test that connection holds the test's transaction, so keep it open (as Django's test client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db, wsgi_calls_share_the_test_transaction) -> str:
    integration = build_integration()
    task = Task.objects.create(integration=integration, flow=integration.flows.get(), trigger=Task.Trigger.MANUAL)
    LogEntry.objects.create(
        integration=integration,
        task=task,
        level=LogEntry.Level.ERROR,
        code="order.missing_vat",
        reference="100234",
        data_type="order",
        message="No VAT",
        hint="Add VAT",
    )
    user = get_user_model().objects.create_user("schema-monitor", password="x", is_staff=True)
    return Token.objects.create(user=user).key


def test_every_endpoint_is_fuzzed_and_documents_its_refusals():
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {
        "/api/v1/integrations/",
        "/api/v1/integrations/{id}/",
        "/api/v1/tasks/",
        "/api/v1/logs/",
        "/api/v1/references/",
        "/api/v1/connect-jobs/",
    } <= {operation.path for operation in operations}
    for operation in operations:
        assert {"200", "401", "403", "404"} <= set(operation.definition.raw["responses"]), operation.path


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_to_its_schema(case, staff_token):
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, checks=CHECKS)
