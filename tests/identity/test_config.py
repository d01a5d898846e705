"""Tests of verifier_from_env: every variable checked, with a message naming it and the fix."""

from __future__ import annotations

import json

import boto3
import pytest
from mesh_identity import constants
from mesh_identity.errors import ConfigurationError, ScopeMissing
from mesh_identity.tokens import verifier_from_env
from moto import mock_aws


def test_verifier_from_env_url_source_verifies_token(mesh_verifier_env, oidc_issuer):
    verifier = verifier_from_env()

    claims = verifier.verify(oidc_issuer.mint_access_token("bob-sub"))

    assert claims.sub == "bob-sub"


def test_verifier_from_env_prefers_ssm_parameter(mesh_verifier_env, oidc_issuer, monkeypatch):
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/mesh/jwks", Value=json.dumps(oidc_issuer.jwks()), Type="String")
        monkeypatch.setenv(constants.ENV_JWKS_PARAMETER_NAME, "/mesh/jwks")

        claims = verifier_from_env(ssm_client=ssm).verify(oidc_issuer.mint_access_token("bob-sub"))

    assert claims.sub == "bob-sub"
    assert oidc_issuer.jwks_fetch_count == 0


def test_verifier_from_env_required_scopes_applied(mesh_verifier_env, oidc_issuer, monkeypatch):
    monkeypatch.setenv(constants.ENV_REQUIRED_SCOPES, f"{constants.SCOPE_ACCOUNTS_READ} {constants.SCOPE_TRANSACTIONS_READ}")
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[constants.SCOPE_ACCOUNTS_READ])

    with pytest.raises(ScopeMissing):
        verifier_from_env().verify(token)


def test_verifier_from_env_several_client_ids_accepted(mesh_verifier_env, oidc_issuer, monkeypatch):
    monkeypatch.setenv(constants.ENV_ALLOWED_CLIENT_IDS, f"otherclient, {oidc_issuer.client_id}")

    claims = verifier_from_env().verify(oidc_issuer.mint_access_token("bob-sub"))

    assert claims.client_id == oidc_issuer.client_id


# Each case sets one variable to a bad value (None deletes it) and names the variable the error must mention.
BAD_ENVIRONMENTS = {
    "issuer_missing": ({constants.ENV_ISSUER: None}, constants.ENV_ISSUER),
    "issuer_blank": ({constants.ENV_ISSUER: "  "}, constants.ENV_ISSUER),
    "issuer_trailing_slash": ({constants.ENV_ISSUER: "https://cognito-idp.us-east-1.amazonaws.com/pool/"}, constants.ENV_ISSUER),
    "issuer_plain_http_remote": ({constants.ENV_ISSUER: "http://cognito-idp.example.com/pool"}, constants.ENV_ISSUER),
    "client_ids_missing": ({constants.ENV_ALLOWED_CLIENT_IDS: None}, constants.ENV_ALLOWED_CLIENT_IDS),
    "client_ids_empty_entry": ({constants.ENV_ALLOWED_CLIENT_IDS: "a,,b"}, constants.ENV_ALLOWED_CLIENT_IDS),
    "jwks_source_missing": ({constants.ENV_JWKS_URL: None}, constants.ENV_JWKS_PARAMETER_NAME),
    "jwks_url_not_http": ({constants.ENV_JWKS_URL: "ftp://example.com/jwks.json"}, constants.ENV_JWKS_URL),
    "cooldown_not_number": ({constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS: "five"}, constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS),
    "cooldown_negative": ({constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS: "-1"}, constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS),
    "cooldown_infinite": ({constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS: "inf"}, constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS),
}


@pytest.mark.parametrize("case", BAD_ENVIRONMENTS, ids=list(BAD_ENVIRONMENTS))
def test_verifier_from_env_bad_variable_names_it(case, mesh_verifier_env):
    changes, variable = BAD_ENVIRONMENTS[case]
    environment = dict(mesh_verifier_env)
    for name, value in changes.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value

    with pytest.raises(ConfigurationError) as raised:
        verifier_from_env(environment)

    assert variable in str(raised.value)
