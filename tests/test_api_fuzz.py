"""The API against its own OpenAPI document: generated requests never get a 500 or an answer
that breaks the document (schemathesis, on top of hypothesis)."""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from fieldlog.app.extensions import db

# Examples per operation: 100 in the suite (~700 requests); FIELDLOG_FUZZ_EXAMPLES=1000 for the
# long run recorded in benchmarks/README.md ("API fuzz").
EXAMPLES = int(os.environ.get("FIELDLOG_FUZZ_EXAMPLES", "100"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def credentials(app, client, auth, make):
    """A logged-in rep with a customer, a category and an open follow-up and proposal."""
    rep = make.user("rep")
    customer = make.customer(rep=rep, code="C-1")
    make.category("OIL")
    make.visit(
        rep,
        customer,
        proposal={"category": "OIL"},
        next_action={"action": "電話", "due_on": "2026-11-30"},
    )
    db.session.commit()
    auth.login(rep)
    return {
        "cookies": {"session": client.get_cookie("session").value},
        # The WSGI transport does not gunzip: ask for plain bodies (/offline-data is large
        # enough to be compressed otherwise; compression has its own tests).
        "headers": {"X-CSRFToken": auth.csrf(), "Accept-Encoding": "identity"},
    }


def test_api_conforms_to_its_openapi_document(app, credentials):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(**credentials)
            case.validate_response(response, checks=CHECKS)

        check()


def test_openapi_document_is_served(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/session",
        "/api/v1/visits",
        "/api/v1/follow-ups/{id}/done",
        "/api/v1/follow-ups/{id}/reschedule",
        "/api/v1/follow-ups/{id}/cancel",
        "/api/v1/plan",
        "/api/v1/offline-data",
        "/api/v1/proposals/{id}/close",
    }


def test_every_api_route_is_in_the_openapi_document(app, client):
    """Each route of the API blueprint, with each of its methods, is described (path
    parameters compared by position, not name); the document itself is the only exception."""
    document = client.get("/api/v1/openapi.json").get_json()
    described = {
        (re.sub(r"\{[^}]+\}", "{}", path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routed = {
        (re.sub(r"<[^>]+>", "{}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routed and routed <= described, routed - described
