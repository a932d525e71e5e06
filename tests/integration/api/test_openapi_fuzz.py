"""schemathesis against the live OpenAPI, served by uvicorn with real servers behind it:
no 5xx, and every answer conforms to the schema (status code, content type, body)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.integration.api.harness import WebStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]  # fmt: skip


@pytest.fixture(scope="module")
def session_headers(web_stack: WebStack) -> dict[str, str]:
    client = web_stack.login("alice")  # a host with Manage Server: deep paths are reachable
    web_stack.clients.remove(client)
    cookie = client.cookies["muster_session"]
    csrf = client.headers["X-CSRF-Token"]
    client.close()
    return {"Cookie": f"muster_session={cookie}", "X-CSRF-Token": csrf}


def test_api_conforms(web_stack: WebStack, session_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{web_stack.url}/api/v1/openapi.json")
    schema = schema.exclude(path="/auth/logout")  # it would end the session the fuzzer uses
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    calls: dict[int, int] = {}
    for operation in operations:

        @given(operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            response = case.call_and_validate(base_url=web_stack.url, headers=session_headers,
                                   checks=CHECKS, allow_redirects=False)  # fmt: skip

            calls[response.status_code] = calls.get(response.status_code, 0) + 1

        check()
    assert sum(calls.values()) >= 10 * len(operations), calls
    assert calls.get(200, 0) + calls.get(201, 0) > 0, calls  # some requests went deep
