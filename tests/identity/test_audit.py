"""Tests of audit records: fields, masking and the guard against logging credentials."""

from __future__ import annotations

import importlib

import pytest
from mesh_identity.audit import audit, mask_account_ids
from mesh_identity.errors import MalformedToken, TokenExpired

JWT = "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock-agentcore/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"
)
ROLE_ARN = "arn:aws:sts::123456789012:assumed-role/SupportAgentRole/session-1"


def test_audit_record_has_decision_fields(captured_logger):
    record = audit(
        "gateway_interceptor",
        "allow",
        "token_verified",
        principal=ROLE_ARN,
        sub="bob-sub",
        session_id="mesh-session-0123456789abcdef0123456789abcdef",
        logger=captured_logger.logger,
        tool="Ledger___get_balance",
    )

    logged = captured_logger.audit_records()
    assert logged == [record]
    assert record["hop"] == "gateway_interceptor"
    assert record["decision"] == "allow"
    assert record["reason"] == "token_verified"
    assert record["sub"] == "bob-sub"
    assert record["tool"] == "Ledger___get_balance"


def test_audit_log_line_has_service_and_message(captured_logger):
    audit("ledger", "deny", TokenExpired.reason, logger=captured_logger.logger)

    line = captured_logger.records()[0]

    assert line["message"] == "mesh trust decision"
    assert line["service"].startswith("mesh-test-")
    assert line["level"] == "INFO"


def test_audit_masks_account_id_in_principal_arn(captured_logger):
    record = audit("transaction_agent", "allow", "sigv4_verified", principal=ROLE_ARN, logger=captured_logger.logger)

    assert record["principal"] == "arn:aws:sts::********9012:assumed-role/SupportAgentRole/session-1"
    assert "123456789012" not in captured_logger.text


def test_audit_masks_account_id_in_extra_ids(captured_logger):
    record = audit(
        "ledger",
        "allow",
        "token_verified",
        logger=captured_logger.logger,
        runtime_arn="arn:aws:bedrock-agentcore:us-east-1:210987654321:runtime/x",
        account=210987654321,
    )

    assert record["runtime_arn"] == "arn:aws:bedrock-agentcore:us-east-1:********4321:runtime/x"
    assert record["account"] == "********4321"


def test_mask_account_ids_masks_card_numbers():
    # A card or bank account number is as sensitive as an AWS account id.
    assert mask_account_ids("card 4111111111111111") == "card ************1111"


def test_mask_account_ids_leaves_uuid_groups():
    # The last group of a Cognito sub can be all digits; the sub must stay readable.
    sub = "3f1c2b9a-6d4e-4a8b-9c71-012345678901"
    assert mask_account_ids(sub) == sub


def test_mask_account_ids_leaves_short_numbers():
    assert mask_account_ids("page 1234567") == "page 1234567"


# Each case passes a credential in a field that should hold an identifier.
CREDENTIALS_IN_FIELDS = {
    "jwt_as_sub": {"sub": JWT},
    "jwt_in_session_id": {"session_id": f"session {JWT}"},
    "sigv4_as_principal": {"principal": SIGV4},
    "bearer_value_in_id": {"caller": f"Bearer {JWT}"},
    "signature_fragment_in_id": {"note": "X-Amz-Signature=abcdef0123"},
    "authorization_key": {"authorization": "opaque-value"},
    "token_key": {"user_token": "opaque-value"},
    "jwt_in_non_string_id": {"detail": [JWT]},
}


@pytest.mark.parametrize("case", CREDENTIALS_IN_FIELDS, ids=list(CREDENTIALS_IN_FIELDS))
def test_audit_credential_values_redacted(case, captured_logger):
    record = audit("gateway_interceptor", "deny", "token_malformed", logger=captured_logger.logger, **CREDENTIALS_IN_FIELDS[case])

    assert "[redacted]" in record.values()
    assert "eyJ" not in captured_logger.text
    assert "AWS4-HMAC-SHA256" not in captured_logger.text
    assert "opaque-value" not in captured_logger.text


def test_audit_long_value_truncated(captured_logger):
    record = audit("ledger", "deny", "token_malformed", logger=captured_logger.logger, tool="x" * 1000)

    assert len(record["tool"]) < 300


@pytest.mark.parametrize(
    ("hop", "decision", "reason", "ids"),
    [
        ("ledger", "maybe", "token_verified", {}),
        ("ledger", "allow", "Token Verified", {}),
        ("ledger", "allow", "", {}),
        ("", "allow", "token_verified", {}),
        ("ledger", "allow", "token_verified", {"Tool-Name": "x"}),
    ],
    ids=["unknown_decision", "reason_not_snake_case", "empty_reason", "empty_hop", "id_key_not_snake_case"],
)
def test_audit_invalid_arguments_rejected(hop, decision, reason, ids, captured_logger):
    with pytest.raises(ValueError):
        audit(hop, decision, reason, logger=captured_logger.logger, **ids)


def test_audit_default_logger_uses_service_from_environment(monkeypatch, capfd):
    # The package re-exports the function under the module's name, so fetch the module itself.
    audit_module = importlib.import_module("mesh_identity.audit")
    monkeypatch.setattr(audit_module, "_default_logger", None)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "mesh-audit-default-test")

    audit("ledger", "allow", "token_verified", sub="bob-sub")

    assert '"service":"mesh-audit-default-test"' in capfd.readouterr().out.replace(" ", "")


def test_error_message_with_token_is_redacted():
    error = MalformedToken(f"could not parse {JWT}")

    assert "eyJ" not in str(error)
    assert "[redacted]" in str(error)


def test_error_reason_codes_are_distinct():
    import mesh_identity.errors as errors

    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, errors.MeshIdentityError)]
    reasons = [error_class.reason for error_class in classes]

    assert len(reasons) == len(set(reasons))
