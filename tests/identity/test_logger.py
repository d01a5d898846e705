"""Tests of the mesh logger: account ids are masked in every JSON line it writes."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import pytest
from mesh_identity.logger import AccountIdMaskingFormatter, create_logger

from tests.support.fixtures import FakeLambdaContext

ACCOUNT_ID = "123456789012"
TWELVE_DIGITS = re.compile(r"\d{12}")
# Request ids are UUIDs, whose last group may be 12 digits. They are not account ids.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _ArnHolder:
    """An object that the JSON encoder can only write through ``str()``."""

    def __str__(self) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/holder"


@pytest.fixture
def mesh_log() -> tuple[Any, io.StringIO]:
    """A mesh logger with its own service name that writes to memory."""
    stream = io.StringIO()
    # Letters only: a random hex name can hold a run of 12 digits, which the
    # assertions below would then find in every line.
    suffix = uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    return create_logger(f"mesh-logger-test-{suffix}", stream=stream), stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _twelve_digit_runs(text: str) -> list[str]:
    return TWELVE_DIGITS.findall(UUID.sub("<uuid>", text))


def test_create_logger_uses_masking_formatter(mesh_log):
    logger, _ = mesh_log

    assert isinstance(logger.registered_formatter, AccountIdMaskingFormatter)


def test_create_logger_masks_function_arn_of_lambda_context(mesh_log):
    logger, stream = mesh_log

    @logger.inject_lambda_context(log_event=False)
    def handle(event: dict[str, Any], context: Any) -> None:
        logger.info("handled")

    handle({}, FakeLambdaContext())
    (line,) = _lines(stream)

    assert line["function_arn"] == "arn:aws:lambda:us-east-1:********9012:function:mesh-test-function"
    assert _twelve_digit_runs(stream.getvalue()) == []


def test_create_logger_masks_account_id_in_message(mesh_log):
    logger, stream = mesh_log

    logger.info(f"assumed role in account {ACCOUNT_ID}")

    assert _lines(stream)[0]["message"] == "assumed role in account ********9012"


def test_create_logger_masks_account_id_after_newline(mesh_log):
    # JSON writes the newline as "\n", so only masking before serialization finds this run.
    logger, stream = mesh_log

    logger.info(f"first line\n{ACCOUNT_ID}")

    assert ACCOUNT_ID not in _lines(stream)[0]["message"]


def test_create_logger_masks_account_id_in_key(mesh_log):
    logger, stream = mesh_log

    logger.info("per account", extra={"counts": {ACCOUNT_ID: 1}})

    assert _lines(stream)[0]["counts"] == {"********9012": 1}


def test_create_logger_masks_numeric_account_id_as_text(mesh_log):
    logger, stream = mesh_log

    logger.info("numbers", extra={"account": int(ACCOUNT_ID), "amounts": [1234567890.5, 42]})
    line = _lines(stream)[0]

    assert line["account"] == "********9012"
    assert line["amounts"] == ["******7890.5", 42]


def test_create_logger_keeps_short_numbers(mesh_log):
    logger, stream = mesh_log

    logger.info("numbers", extra={"page": 1234567, "ratio": 0.25, "cold": True})
    line = _lines(stream)[0]

    assert line["page"] == 1234567
    assert line["ratio"] == 0.25
    assert line["cold"] is True


def test_create_logger_masks_object_written_as_text(mesh_log):
    logger, stream = mesh_log

    logger.info("holder", extra={"holder": _ArnHolder()})

    assert _lines(stream)[0]["holder"] == "arn:aws:iam::********9012:role/holder"


def test_create_logger_masks_exception_text(mesh_log):
    logger, stream = mesh_log

    try:
        raise RuntimeError(f"no access to account {ACCOUNT_ID}")
    except RuntimeError:
        logger.exception("call failed")

    assert _twelve_digit_runs(stream.getvalue()) == []


def test_create_logger_leaves_uuid_groups(mesh_log):
    logger, stream = mesh_log
    sub = "7c1e0f7a-1111-4a6b-9d2e-a11ce0000001"

    logger.info("user", extra={"sub": sub})

    assert _lines(stream)[0]["sub"] == sub
