"""Tests of the identity-key rules for tool arguments that the interceptor and the Transaction agent share."""

from __future__ import annotations

from typing import Any

import pytest
from mesh_identity.arguments import (
    MAX_ARGUMENT_DEPTH,
    contains_reserved_key,
    is_identity_key,
    is_reserved_key,
    strip_identity_arguments,
)
from mesh_identity.constants import VERIFIED_IDENTITY_KEY
from mesh_identity.errors import InvalidArguments


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"level": value}
    return value


@pytest.mark.parametrize(
    "key",
    [
        VERIFIED_IDENTITY_KEY,
        "__MESH_VERIFIED_IDENTITY",
        "__mesh-verified-identity",
        "mesh verified identity",
        "MeshVerifiedIdentity",
        "＿＿ｍｅｓｈ＿ｖｅｒｉｆｉｅｄ＿ｉｄｅｎｔｉｔｙ",
    ],
)
def test_is_reserved_key_matches_spellings(key):
    assert is_reserved_key(key)


@pytest.mark.parametrize("key", ["customer_id", "sub", "mesh_identity", "verified"])
def test_is_reserved_key_leaves_other_keys(key):
    assert not is_reserved_key(key)


@pytest.mark.parametrize("key", ["cust_id", "customer_number", "account_holder", "CUSTOMER-NO"])
def test_is_identity_key_matches_synonyms(key):
    assert is_identity_key(key)


@pytest.mark.parametrize(
    "arguments",
    [
        {"__MESH_VERIFIED_IDENTITY": {"sub": "mallory"}},
        {"nested": {"__mesh_verified_identity": {"sub": "mallory"}}},
        {"list": [{"mesh-verified-identity": {"sub": "mallory"}}]},
        {"lists": [[{"limit": 1}], [{VERIFIED_IDENTITY_KEY: 1}]]},
    ],
    ids=["recased", "nested_object", "inside_list", "inside_list_of_lists"],
)
def test_contains_reserved_key_finds_key_at_any_depth(arguments):
    assert contains_reserved_key(arguments)


def test_contains_reserved_key_ignores_values():
    arguments = {"note": VERIFIED_IDENTITY_KEY, "items": [VERIFIED_IDENTITY_KEY]}

    assert not contains_reserved_key(arguments)


def test_contains_reserved_key_beyond_depth_limit_rejected():
    with pytest.raises(InvalidArguments) as raised:
        contains_reserved_key(_nested(5), max_depth=4)

    assert raised.value.reason == "arguments_too_deep"


def test_strip_identity_arguments_removes_keys_at_any_depth():
    arguments = {"customer_id": "a", "filter": {"sub": "b", "currency": "EUR"}, "pages": [[{"userId": "c"}]]}

    cleaned, removed = strip_identity_arguments(arguments)

    assert cleaned == {"filter": {"currency": "EUR"}, "pages": [[{}]]}
    assert removed == 3


def test_strip_identity_arguments_removes_fullwidth_identity_key():
    cleaned, removed = strip_identity_arguments({"ｃｕｓｔｏｍｅｒ_ｉｄ": "a", "limit": 5})

    assert cleaned == {"limit": 5}
    assert removed == 1


@pytest.mark.parametrize(
    "key",
    ["\u0441ustomer_id", "\u0455ub", "\u03bfwner", "limit\u00a0", "d\u00e9but"],
    ids=["cyrillic_es", "cyrillic_dze", "greek_omicron", "no_break_space", "latin_accent"],
)
def test_strip_identity_arguments_non_ascii_name_rejected(key):
    with pytest.raises(InvalidArguments) as raised:
        strip_identity_arguments({key: "mallory"})

    assert raised.value.reason == "argument_key_not_ascii"


def test_strip_identity_arguments_error_omits_key():
    key = "\u0441ustomer_id"

    with pytest.raises(InvalidArguments) as raised:
        strip_identity_arguments({key: "mallory"})

    assert key not in str(raised.value)


def test_strip_identity_arguments_keeps_non_ascii_values():
    cleaned, removed = strip_identity_arguments({"note": "\u0441ustomer \u00e9t\u00e9"})

    assert cleaned == {"note": "\u0441ustomer \u00e9t\u00e9"}
    assert removed == 0


def test_strip_identity_arguments_honours_max_depth():
    cleaned, _ = strip_identity_arguments(_nested(4), max_depth=4)

    assert cleaned == _nested(4)


def test_strip_identity_arguments_beyond_max_depth_rejected():
    with pytest.raises(InvalidArguments) as raised:
        strip_identity_arguments(_nested(5), max_depth=4)

    assert raised.value.reason == "arguments_too_deep"


def test_strip_identity_arguments_default_depth_is_interceptor_limit():
    with pytest.raises(InvalidArguments):
        strip_identity_arguments(_nested(MAX_ARGUMENT_DEPTH + 1))
