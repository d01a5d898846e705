"""Tests of strict header lookup, the Bearer scheme and session id checks."""

from __future__ import annotations

import pytest
from mesh_identity import constants
from mesh_identity.errors import DuplicateHeader, InvalidHeader, MissingHeader
from mesh_identity.headers import (
    bearer_token,
    find_single_header,
    session_id_from_headers,
    user_token_from_headers,
    validate_session_id,
)

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
SESSION_ID = "mesh-session-0123456789abcdef0123456789abcdef"
NAME = constants.USER_TOKEN_HEADER


def test_find_single_header_mapping_is_case_insensitive():
    assert find_single_header({NAME.lower(): TOKEN}, NAME) == TOKEN


def test_find_single_header_pairs_are_case_insensitive():
    assert find_single_header([("accept", "*/*"), (NAME.upper(), TOKEN)], NAME) == TOKEN


def test_find_single_header_strips_surrounding_whitespace():
    assert find_single_header({NAME: f"  {TOKEN}\t"}, NAME) == TOKEN


def test_find_single_header_single_item_list_value_accepted():
    assert find_single_header({NAME: [TOKEN]}, NAME) == TOKEN


# Each case is a set of headers in which the user-token header is absent or empty.
MISSING: dict[str, object] = {
    "no_headers": None,
    "empty_mapping": {},
    "other_headers_only": {"authorization": "AWS4-HMAC-SHA256 Credential=x"},
    "empty_value": {NAME: ""},
    "blank_value": {NAME: "   "},
    "none_value": {NAME: None},
    "empty_list_value": {NAME: []},
    "prefix_only_name": {constants.RUNTIME_CUSTOM_HEADER_PREFIX: TOKEN},
}


@pytest.mark.parametrize("case", MISSING, ids=list(MISSING))
def test_find_single_header_missing_rejected(case):
    with pytest.raises(MissingHeader):
        find_single_header(MISSING[case], NAME)  # type: ignore[arg-type]


# Each case carries the user-token header twice.
DUPLICATED: dict[str, object] = {
    "mapping_keys_differing_in_case": {NAME: TOKEN, NAME.lower(): TOKEN + "x"},
    "pairs_same_case": [(NAME, TOKEN), (NAME, TOKEN)],
    "pairs_differing_in_case": [(NAME.lower(), TOKEN), (NAME.upper(), "other")],
    "multi_value_list": {NAME: [TOKEN, "other"]},
}


@pytest.mark.parametrize("case", DUPLICATED, ids=list(DUPLICATED))
def test_find_single_header_twice_rejected(case):
    with pytest.raises(DuplicateHeader):
        find_single_header(DUPLICATED[case], NAME)  # type: ignore[arg-type]


def test_find_single_header_non_string_value_rejected():
    with pytest.raises(InvalidHeader):
        find_single_header({NAME: 42}, NAME)


def test_find_single_header_error_names_header_not_value():
    with pytest.raises(DuplicateHeader) as raised:
        find_single_header([(NAME, TOKEN), (NAME.lower(), TOKEN)], NAME)

    assert NAME in str(raised.value)
    assert "eyJ" not in str(raised.value)


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN}", f" Bearer {TOKEN} "])
def test_bearer_token_returns_token(value):
    assert bearer_token(value) == TOKEN


@pytest.mark.parametrize(
    "value",
    ["Basic dXNlcjpwYXNz", "Bearer", f"Bearer {TOKEN} extra", f"Token {TOKEN}", TOKEN, f"Bearer\t{TOKEN}"],
    ids=["basic", "scheme_only", "two_tokens", "other_scheme", "no_scheme", "tab_separator"],
)
def test_bearer_token_wrong_form_rejected(value):
    with pytest.raises(InvalidHeader):
        bearer_token(value)


def test_bearer_token_empty_value_rejected():
    with pytest.raises(MissingHeader):
        bearer_token("  ")


def test_user_token_from_headers_returns_raw_token():
    assert user_token_from_headers({NAME.lower(): TOKEN}) == TOKEN


@pytest.mark.parametrize(
    "value",
    [f"Bearer {TOKEN}", f"{TOKEN}, {TOKEN}", TOKEN + "\r\nX-Injected: 1", "a" * (constants.MAX_HEADER_VALUE_BYTES + 1)],
    ids=["bearer_prefix", "comma_joined_copies", "crlf", "over_4_kb"],
)
def test_user_token_from_headers_wrong_form_rejected(value):
    with pytest.raises(InvalidHeader):
        user_token_from_headers({NAME: value})


def test_session_id_from_headers_returns_session_id():
    assert session_id_from_headers({constants.SESSION_ID_HEADER.lower(): SESSION_ID}) == SESSION_ID


def test_validate_session_id_minimum_length_accepted():
    value = "s" * constants.MIN_SESSION_ID_LENGTH

    assert validate_session_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "s" * (constants.MIN_SESSION_ID_LENGTH - 1),
        "s" * (constants.MAX_SESSION_ID_LENGTH + 1),
        f"{SESSION_ID}, {SESSION_ID}",
        "-" + SESSION_ID,
        SESSION_ID + "/../other",
        SESSION_ID + "\n",
        SESSION_ID + "é",
    ],
    ids=["one_too_short", "one_too_long", "comma_joined", "leading_dash", "slash", "newline", "non_ascii"],
)
def test_validate_session_id_invalid_rejected(value):
    with pytest.raises(InvalidHeader):
        validate_session_id(value)
