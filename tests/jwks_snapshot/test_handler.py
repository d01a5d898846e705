"""Tests of the JWKS snapshot function against a JWKS server on 127.0.0.1 and moto SSM."""

import io
import json
from typing import Any

import pytest

from jwks_snapshot import handler
from jwks_snapshot.errors import InvalidJwksError, JwksFetchError, UnsupportedEventError
from jwks_snapshot.snapshot import JwksSnapshotter
from tests.jwks_snapshot.conftest import (
    PARAMETER_NAME,
    SCHEDULE_EVENT,
    JwksServer,
    custom_resource_event,
    ec_public_jwk,
    public_jwk,
)


def stored(ssm: Any) -> dict[str, Any]:
    return ssm.get_parameter(Name=PARAMETER_NAME)["Parameter"]


def stored_kids(ssm: Any) -> list[str]:
    return [key["kid"] for key in json.loads(stored(ssm)["Value"])["keys"]]


def parameter_exists(ssm: Any) -> bool:
    return bool(ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [PARAMETER_NAME]}])["Parameters"])


# --- create, update, schedule ------------------------------------------------------------------------


def test_create_writes_parameter(snapshotter: JwksSnapshotter, ssm: Any, jwks: dict[str, Any]) -> None:
    response = handler.handle(custom_resource_event("Create"), snapshotter)

    parameter = stored(ssm)
    assert parameter["Type"] == "String"
    assert json.loads(parameter["Value"]) == {"keys": sorted(jwks["keys"], key=lambda key: key["kid"])}
    assert response["PhysicalResourceId"] == PARAMETER_NAME


def test_create_returns_key_data(snapshotter: JwksSnapshotter) -> None:
    response = handler.handle(custom_resource_event("Create"), snapshotter)

    assert response["Data"] == {
        "ParameterName": PARAMETER_NAME,
        "KeyCount": "2",
        "KeyIds": "kid-0,kid-1",
        "Changed": "true",
    }


def test_create_uses_standard_tier(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)

    (description,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [PARAMETER_NAME]}])[
        "Parameters"
    ]
    assert description["Tier"] == "Standard"


def test_unchanged_jwks_is_not_rewritten(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)

    response = handler.handle(custom_resource_event("Update", PARAMETER_NAME), snapshotter)

    assert stored(ssm)["Version"] == 1
    assert response["Data"]["Changed"] == "false"
    assert response["PhysicalResourceId"] == PARAMETER_NAME


def test_reordered_jwks_is_not_rewritten(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, jwks: dict[str, Any]
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    reordered = {"keys": [dict(reversed(list(key.items()))) for key in reversed(jwks["keys"])]}
    jwks_server.serve_json(reordered)

    handler.handle(custom_resource_event("Update", PARAMETER_NAME), snapshotter)

    assert stored(ssm)["Version"] == 1


def test_rotated_jwks_is_rewritten(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    jwks_server.serve_json({"keys": [public_jwk(rsa_keys[1]), public_jwk(rsa_keys[2])]})

    response = handler.handle(custom_resource_event("Update", PARAMETER_NAME), snapshotter)

    assert stored(ssm)["Version"] == 2
    assert stored_kids(ssm) == ["kid-1", "kid-2"]
    assert response["Data"]["Changed"] == "true"


def test_schedule_event_refreshes(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    jwks_server.serve_json({"keys": [public_jwk(rsa_keys[2])]})

    summary = handler.handle(SCHEDULE_EVENT, snapshotter)

    assert stored_kids(ssm) == ["kid-2"]
    assert summary == {"parameter_name": PARAMETER_NAME, "key_count": 1, "kids": ["kid-2"], "changed": True}


@pytest.mark.parametrize(
    "event",
    [{"source": "aws.events"}, {"detail-type": "Scheduled Event"}],
    ids=["source", "detail_type"],
)
def test_schedule_event_matches_either_field(
    snapshotter: JwksSnapshotter, ssm: Any, event: dict[str, Any]
) -> None:
    handler.handle(event, snapshotter)

    assert stored_kids(ssm) == ["kid-0", "kid-1"]


def test_schedule_creates_missing_parameter(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    summary = handler.handle(SCHEDULE_EVENT, snapshotter)

    assert summary["changed"] is True
    assert stored(ssm)["Version"] == 1


def test_large_jwks_uses_advanced_tier(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    # Eleven RSA-2048 public keys take more than 4096 bytes, the Standard tier limit.
    keys = [dict(public_jwk(rsa_keys[index % 3]), kid=f"kid-large-{index:02d}") for index in range(11)]
    jwks_server.serve_json({"keys": keys})

    handler.handle(custom_resource_event("Create"), snapshotter)

    (description,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [PARAMETER_NAME]}])[
        "Parameters"
    ]
    assert len(stored(ssm)["Value"]) > 4096
    assert description["Tier"] == "Advanced"


# --- invalid documents --------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi"])
def test_private_key_member_is_rejected(
    snapshotter: JwksSnapshotter, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]], member: str
) -> None:
    leaking = dict(public_jwk(rsa_keys[0]), **{member: rsa_keys[0][member]})
    jwks_server.serve_json({"keys": [leaking, public_jwk(rsa_keys[1])]})

    with pytest.raises(InvalidJwksError, match=f"private-key members {member}\\b"):
        handler.handle(custom_resource_event("Create"), snapshotter)


def test_private_key_is_not_written(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    jwks_server.serve_json({"keys": [rsa_keys[0]]})

    with pytest.raises(InvalidJwksError, match="private-key members d, p, q, dp, dq, qi"):
        handler.handle(custom_resource_event("Create"), snapshotter)

    assert not parameter_exists(ssm)


def test_private_key_error_omits_key_material(
    snapshotter: JwksSnapshotter, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    jwks_server.serve_json({"keys": [rsa_keys[0]]})

    with pytest.raises(InvalidJwksError) as raised:
        handler.handle(custom_resource_event("Create"), snapshotter)

    assert rsa_keys[0]["d"] not in str(raised.value)
    assert rsa_keys[0]["n"] not in str(raised.value)


def test_non_rsa_key_is_rejected(snapshotter: JwksSnapshotter, jwks_server: JwksServer) -> None:
    jwks_server.serve_json({"keys": [ec_public_jwk("ec-key")]})

    with pytest.raises(InvalidJwksError, match="has kty 'EC', expected \"RSA\""):
        handler.handle(custom_resource_event("Create"), snapshotter)


def _with(key: dict[str, Any], **changes: Any) -> dict[str, Any]:
    updated = dict(key, **changes)
    return {name: value for name, value in updated.items() if value is not None}


INVALID_KEYS = {
    "symmetric": (lambda key: {"kty": "oct", "kid": "k", "k": "c2VjcmV0"}, "expected \"RSA\""),
    "alg_rs512": (lambda key: _with(key, alg="RS512"), "expected \"RS256\""),
    "alg_none": (lambda key: _with(key, alg="none"), "expected \"RS256\""),
    "use_enc": (lambda key: _with(key, use="enc"), "expected \"sig\""),
    "key_ops_sign": (lambda key: _with(key, key_ops=["sign"]), "expected [\"verify\"]"),
    "kid_missing": (lambda key: _with(key, kid=None), "missing or invalid \"kid\""),
    "kid_empty": (lambda key: _with(key, kid=""), "missing or invalid \"kid\""),
    "kid_not_string": (lambda key: _with(key, kid=7), "missing or invalid \"kid\""),
    "n_missing": (lambda key: _with(key, n=None), "missing or invalid \"n\""),
    "n_padded": (lambda key: _with(key, n=key["n"] + "=="), "missing or invalid \"n\""),
    "e_missing": (lambda key: _with(key, e=None), "missing or invalid \"e\""),
    "e_even": (lambda key: _with(key, e="AQAA"), "invalid exponent"),
    "modulus_1024_bits": (lambda key: _with(key, n="A" + "B" * 170), "expected 2048 to 8192 bits"),
    "not_object": (lambda key: "not-a-key", "expected an object"),
}


@pytest.mark.parametrize(("make_key", "message"), INVALID_KEYS.values(), ids=INVALID_KEYS.keys())
def test_invalid_key_is_rejected(
    snapshotter: JwksSnapshotter,
    jwks_server: JwksServer,
    rsa_keys: list[dict[str, Any]],
    make_key: Any,
    message: str,
) -> None:
    jwks_server.serve_json({"keys": [make_key(public_jwk(rsa_keys[0]))]})

    with pytest.raises(InvalidJwksError, match=message.replace("[", "\\[").replace("]", "\\]")):
        handler.handle(custom_resource_event("Create"), snapshotter)


INVALID_DOCUMENTS = {
    "keys_empty": (b'{"keys": []}', 'non-empty "keys" array'),
    "keys_missing": (b'{"kids": []}', 'non-empty "keys" array'),
    "keys_not_list": (b'{"keys": {}}', 'non-empty "keys" array'),
    "array": (b"[]", "must be a JSON object"),
    "not_json": (b"<html>Service Unavailable</html>", "not valid JSON"),
    "not_utf8": (b"\xff\xfe{}", "not UTF-8"),
    "duplicate_member": (b'{"keys": [], "keys": []}', "duplicate member names keys"),
}


@pytest.mark.parametrize(("body", "message"), INVALID_DOCUMENTS.values(), ids=INVALID_DOCUMENTS.keys())
def test_invalid_document_is_rejected(
    snapshotter: JwksSnapshotter, jwks_server: JwksServer, body: bytes, message: str
) -> None:
    jwks_server.response.body = body

    with pytest.raises(InvalidJwksError, match=message):
        handler.handle(custom_resource_event("Create"), snapshotter)


def test_duplicate_kid_is_rejected(
    snapshotter: JwksSnapshotter, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    twin = dict(public_jwk(rsa_keys[1]), kid="kid-0")
    jwks_server.serve_json({"keys": [public_jwk(rsa_keys[0]), twin]})

    with pytest.raises(InvalidJwksError, match="duplicate kid values: kid-0"):
        handler.handle(custom_resource_event("Create"), snapshotter)


def test_too_many_keys_are_rejected(
    snapshotter: JwksSnapshotter, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    keys = [dict(public_jwk(rsa_keys[0]), kid=f"kid-{index}") for index in range(17)]
    jwks_server.serve_json({"keys": keys})

    with pytest.raises(InvalidJwksError, match="more than the maximum of 16"):
        handler.handle(custom_resource_event("Create"), snapshotter)


def test_unknown_members_are_dropped(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    key = dict(public_jwk(rsa_keys[0]), x5t="thumbprint", comment="extra")
    jwks_server.serve_json({"keys": [key]})

    handler.handle(custom_resource_event("Create"), snapshotter)

    (stored_key,) = json.loads(stored(ssm)["Value"])["keys"]
    assert set(stored_key) == {"kty", "kid", "alg", "use", "n", "e"}


# --- failures keep the last good snapshot ----------------------------------------------------------------


def test_invalid_update_keeps_old_value(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, rsa_keys: list[dict[str, Any]]
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    good_value = stored(ssm)["Value"]
    jwks_server.serve_json({"keys": [rsa_keys[2]]})

    with pytest.raises(InvalidJwksError):
        handler.handle(custom_resource_event("Update", PARAMETER_NAME), snapshotter)

    assert stored(ssm)["Value"] == good_value
    assert stored(ssm)["Version"] == 1


@pytest.mark.parametrize("status", [404, 500, 503])
def test_http_error_keeps_old_value(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer, status: int
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    good_value = stored(ssm)["Value"]
    jwks_server.response.status = status

    with pytest.raises(JwksFetchError, match=f"HTTP {status}, expected 200"):
        handler.handle(custom_resource_event("Update", PARAMETER_NAME), snapshotter)

    assert stored(ssm)["Value"] == good_value


def test_schedule_fetch_failure_keeps_old_value(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    good_value = stored(ssm)["Value"]
    jwks_server.response.status = 500

    with pytest.raises(JwksFetchError):
        handler.handle(SCHEDULE_EVENT, snapshotter)

    assert stored(ssm)["Value"] == good_value


def test_unreachable_server_keeps_old_value(
    snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)
    good_value = stored(ssm)["Value"]
    jwks_server.stop()

    with pytest.raises(JwksFetchError, match="failed"):
        handler.handle(SCHEDULE_EVENT, snapshotter)

    assert stored(ssm)["Value"] == good_value


def test_slow_server_times_out(snapshotter: JwksSnapshotter, ssm: Any, jwks_server: JwksServer) -> None:
    jwks_server.response.delay_seconds = 3.0

    with pytest.raises(JwksFetchError, match="timed out"):
        handler.handle(custom_resource_event("Create"), snapshotter)

    assert not parameter_exists(ssm)


def test_oversized_response_is_rejected(snapshotter: JwksSnapshotter, jwks_server: JwksServer) -> None:
    jwks_server.response.body = b" " * (64 * 1024 + 1)

    with pytest.raises(JwksFetchError, match="larger than 65536 bytes"):
        handler.handle(custom_resource_event("Create"), snapshotter)


def test_oversized_response_without_length_is_rejected(
    snapshotter: JwksSnapshotter, jwks_server: JwksServer
) -> None:
    # Without Content-Length only the capped read can notice the size.
    jwks_server.response.body = b" " * (64 * 1024 + 10)
    jwks_server.response.send_content_length = False

    with pytest.raises(JwksFetchError, match="larger than 65536 bytes"):
        handler.handle(custom_resource_event("Create"), snapshotter)


def test_redirect_is_not_followed(snapshotter: JwksSnapshotter, jwks_server: JwksServer) -> None:
    jwks_server.response.status = 302
    jwks_server.response.headers = {"Location": "http://127.0.0.1:9/elsewhere.json"}

    with pytest.raises(JwksFetchError, match="HTTP 302, expected 200. Redirects are not followed"):
        handler.handle(custom_resource_event("Create"), snapshotter)

    assert jwks_server.response.requests == 1


# --- delete and other events ----------------------------------------------------------------------------


def test_delete_removes_parameter(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)

    response = handler.handle(custom_resource_event("Delete", PARAMETER_NAME), snapshotter)

    assert not parameter_exists(ssm)
    assert response == {"PhysicalResourceId": PARAMETER_NAME}


def test_delete_of_missing_parameter_succeeds(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    response = handler.handle(custom_resource_event("Delete", PARAMETER_NAME), snapshotter)

    assert response == {"PhysicalResourceId": PARAMETER_NAME}


def test_delete_does_not_fetch(snapshotter: JwksSnapshotter, jwks_server: JwksServer) -> None:
    jwks_server.response.status = 500

    handler.handle(custom_resource_event("Delete", PARAMETER_NAME), snapshotter)

    assert jwks_server.response.requests == 0


def test_delete_skips_parameter_it_does_not_own(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    ssm.put_parameter(Name="/someone/else", Value="keep me", Type="String")
    handler.handle(custom_resource_event("Create"), snapshotter)

    handler.handle(custom_resource_event("Delete", "/someone/else"), snapshotter)

    assert ssm.get_parameter(Name="/someone/else")["Parameter"]["Value"] == "keep me"
    assert parameter_exists(ssm)


def test_delete_after_failed_create_keeps_parameter(snapshotter: JwksSnapshotter, ssm: Any) -> None:
    # After a failed create the Provider framework sends a physical id that is not the parameter name.
    handler.handle(custom_resource_event("Create"), snapshotter)

    response = handler.handle(custom_resource_event("Delete", "5d5a2f9c-1111-4222-8333-444455556666"), snapshotter)

    assert parameter_exists(ssm)
    assert response == {"PhysicalResourceId": "5d5a2f9c-1111-4222-8333-444455556666"}


@pytest.mark.parametrize(
    "event",
    [{}, {"detail-type": "Object Created", "source": "aws.s3"}, ["Create"], "Create"],
    ids=["empty", "s3_event", "list", "string"],
)
def test_unsupported_event_is_rejected(snapshotter: JwksSnapshotter, event: Any) -> None:
    with pytest.raises(UnsupportedEventError, match="expected a CloudFormation custom resource event"):
        handler.handle(event, snapshotter)


def test_unknown_request_type_is_rejected(snapshotter: JwksSnapshotter) -> None:
    with pytest.raises(UnsupportedEventError, match="expected Create, Update or Delete"):
        handler.handle(custom_resource_event("Replace"), snapshotter)


# --- logging --------------------------------------------------------------------------------------------------


def test_log_contains_kids_not_keys(
    snapshotter: JwksSnapshotter, snapshot_log: io.StringIO, jwks: dict[str, Any]
) -> None:
    handler.handle(custom_resource_event("Create"), snapshotter)

    records = [json.loads(line) for line in snapshot_log.getvalue().splitlines()]
    (refreshed,) = [record for record in records if record["message"] == "JWKS snapshot refreshed"]
    assert refreshed["kids"] == ["kid-0", "kid-1"]
    assert refreshed["key_count"] == 2
    assert jwks["keys"][0]["n"] not in snapshot_log.getvalue()


def test_log_names_failure(
    snapshotter: JwksSnapshotter, snapshot_log: io.StringIO, jwks_server: JwksServer
) -> None:
    jwks_server.response.status = 503

    with pytest.raises(JwksFetchError):
        handler.handle(SCHEDULE_EVENT, snapshotter)

    records = [json.loads(line) for line in snapshot_log.getvalue().splitlines()]
    (failed,) = [record for record in records if record["message"] == "JWKS snapshot failed"]
    assert failed["trigger"] == "schedule"
    assert "HTTP 503" in failed["exception"]
