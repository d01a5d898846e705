"""Environment of the JWKS snapshot function, validated once per execution environment."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from jwks_snapshot.errors import ConfigurationError

ENV_JWKS_URL: Final = "JWKS_URL"  # https://cognito-idp.<region>.amazonaws.com/<pool id>/.well-known/jwks.json
ENV_JWKS_PARAMETER_NAME: Final = "JWKS_PARAMETER_NAME"  # the SSM String parameter this function owns
# "true" permits http://127.0.0.1 URLs. Only the tests and the local mesh set it.
ENV_ALLOW_LOOPBACK_HTTP: Final = "JWKS_ALLOW_LOOPBACK_HTTP"

LOOPBACK_HOST: Final = "127.0.0.1"

# SSM parameter names: letters, digits and . - _ /, a leading "/" for a path,
# at most 1011 characters and 15 levels.
_PARAMETER_NAME_PATTERN: Final = re.compile(r"(/[A-Za-z0-9_.-]+){1,15}|[A-Za-z0-9_.-]+")
_PARAMETER_NAME_MAX_LENGTH: Final = 1011
_URL_MAX_LENGTH: Final = 2048


@dataclass(frozen=True)
class SnapshotConfig:
    """Settings of the JWKS snapshot function."""

    jwks_url: str
    parameter_name: str
    allow_loopback_http: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "SnapshotConfig":
        """Read and validate the settings, raising ConfigurationError that names the variable."""
        allow_loopback_http = environ.get(ENV_ALLOW_LOOPBACK_HTTP, "").strip().lower() == "true"
        url = _require(environ, ENV_JWKS_URL, "the user pool's JWKS URL")
        parameter_name = _require(environ, ENV_JWKS_PARAMETER_NAME, "the name of the SSM parameter to write")

        validate_jwks_url(url, allow_loopback_http=allow_loopback_http)
        if len(parameter_name) > _PARAMETER_NAME_MAX_LENGTH or not _PARAMETER_NAME_PATTERN.fullmatch(parameter_name):
            raise ConfigurationError(
                f"Invalid environment variable {ENV_JWKS_PARAMETER_NAME}={parameter_name[:80]!r}: expected an SSM "
                "parameter name such as /agent-mesh/cognito/jwks (letters, digits, . - _ and / separators)."
            )
        return cls(jwks_url=url, parameter_name=parameter_name, allow_loopback_http=allow_loopback_http)


def validate_jwks_url(url: str, *, allow_loopback_http: bool) -> None:
    """Raise ConfigurationError unless ``url`` is an https URL, or http on 127.0.0.1 when allowed."""
    parts = urlsplit(url)
    problem = None
    if len(url) > _URL_MAX_LENGTH:
        problem = f"longer than {_URL_MAX_LENGTH} characters"
    elif parts.username is not None or parts.password is not None:
        problem = "it contains credentials"
    elif not parts.hostname:
        problem = "it has no host"
    elif parts.scheme == "http":
        if not allow_loopback_http:
            problem = f"http is allowed only for {LOOPBACK_HOST} with {ENV_ALLOW_LOOPBACK_HTTP}=true"
        elif parts.hostname != LOOPBACK_HOST:
            problem = f"http is allowed only for {LOOPBACK_HOST}"
    elif parts.scheme != "https":
        problem = f"the scheme {parts.scheme!r} is not https"

    if problem is not None:
        raise ConfigurationError(
            f"Invalid environment variable {ENV_JWKS_URL}={url[:120]!r}: {problem}. "
            "Expected https://cognito-idp.<region>.amazonaws.com/<pool id>/.well-known/jwks.json."
        )


def _require(environ: Mapping[str, str], name: str, expected: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"Missing environment variable {name}: set it to {expected}.")
    return value
