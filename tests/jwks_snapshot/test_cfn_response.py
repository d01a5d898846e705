"""The function answers CloudFormation itself: every custom resource event gets one response."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from jwks_snapshot import cfn_response, handler
from tests.jwks_snapshot.conftest import PARAMETER_NAME, custom_resource_event


class ResponseRecorder:
    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []

    def __call__(self, event: Any, response: Any) -> int:
        self.responses.append(dict(response))
        return 200


def test_create_sends_success_with_parameter_id(snapshotter, ssm) -> None:
    recorder = ResponseRecorder()
    handler.respond_to_cloudformation(custom_resource_event("Create"), lambda: snapshotter, send=recorder)
    assert [r["Status"] for r in recorder.responses] == ["SUCCESS"]
    assert recorder.responses[0]["PhysicalResourceId"] == PARAMETER_NAME


def test_create_failure_sends_failed(snapshotter, ssm, jwks_server) -> None:
    jwks_server.serve_json({"keys": []})
    recorder = ResponseRecorder()
    handler.respond_to_cloudformation(custom_resource_event("Create"), lambda: snapshotter, send=recorder)
    assert recorder.responses[0]["Status"] == "FAILED"


def test_failed_create_gets_foreign_physical_id(snapshotter, ssm, jwks_server) -> None:
    # The Delete that follows a failed Create must not delete the parameter.
    jwks_server.serve_json({"keys": []})
    recorder = ResponseRecorder()
    handler.respond_to_cloudformation(custom_resource_event("Create"), lambda: snapshotter, send=recorder)
    assert recorder.responses[0]["PhysicalResourceId"].startswith("jwks-snapshot-failed-")


def test_failed_update_keeps_physical_id(snapshotter, ssm, jwks_server) -> None:
    jwks_server.serve_json({"keys": []})
    recorder = ResponseRecorder()
    event = custom_resource_event("Update", physical_resource_id=PARAMETER_NAME)
    handler.respond_to_cloudformation(event, lambda: snapshotter, send=recorder)
    assert recorder.responses[0]["PhysicalResourceId"] == PARAMETER_NAME


def test_configuration_error_still_sends_failed() -> None:
    def broken_factory():
        raise ValueError("JWKS_URL is missing")

    recorder = ResponseRecorder()
    handler.respond_to_cloudformation(custom_resource_event("Create"), broken_factory, send=recorder)
    assert recorder.responses[0]["Status"] == "FAILED"


def test_failed_reason_is_generic(snapshotter, ssm, jwks_server) -> None:
    jwks_server.serve_json({"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB", "d": "secret-part"}]})
    recorder = ResponseRecorder()
    handler.respond_to_cloudformation(custom_resource_event("Create"), lambda: snapshotter, send=recorder)
    assert "secret-part" not in recorder.responses[0]["Reason"]


def test_send_response_rejects_plain_http() -> None:
    event = {**custom_resource_event("Create"), "ResponseURL": "http://127.0.0.1:9/response"}
    with pytest.raises(cfn_response.ResponseUrlError):
        cfn_response.send_response(event, {"Status": "SUCCESS"})


def test_send_response_puts_json_with_empty_content_type(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[urllib.request.Request] = []

    class Reply:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    def fake_urlopen(request, timeout):
        sent.append(request)
        return Reply()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    event = custom_resource_event("Create")
    response = cfn_response.build_response(event, status="SUCCESS", physical_resource_id="id", reason="done")
    assert cfn_response.send_response(event, response) == 200
    assert (sent[0].get_method(), sent[0].get_header("Content-type")) == ("PUT", "")
    assert json.loads(sent[0].data)["RequestId"] == event["RequestId"]
