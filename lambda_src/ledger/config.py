"""Environment of the ledger function, validated once per execution environment."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from mesh_identity.constants import (
    ENV_LEDGER_READER_ROLE_ARN,
    ENV_LEDGER_TABLE_NAME,
    ENV_PAGINATION_KEY_ID,
)

from ledger.errors import ConfigurationError

# Lambda sets AWS_REGION in every execution environment.
ENV_REGION: Final = "AWS_REGION"

_TABLE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
# A key id, key ARN, alias name or alias ARN, as KMS accepts them for KeyId.
_KMS_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9:/_+=,.@-]{1,2048}")
_REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


@dataclass(frozen=True)
class LedgerConfig:
    """Settings of the ledger function."""

    table_name: str
    reader_role_arn: str
    pagination_key_id: str
    region: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "LedgerConfig":
        """Read and validate the settings, raising ConfigurationError that names the variable."""
        return cls(
            table_name=_require(environ, ENV_LEDGER_TABLE_NAME, _TABLE_NAME_PATTERN, "a DynamoDB table name"),
            reader_role_arn=_require(
                environ, ENV_LEDGER_READER_ROLE_ARN, _ROLE_ARN_PATTERN, "an IAM role ARN"
            ),
            pagination_key_id=_require(
                environ, ENV_PAGINATION_KEY_ID, _KMS_KEY_ID_PATTERN, "a KMS key id, key ARN or alias"
            ),
            region=_require(environ, ENV_REGION, _REGION_PATTERN, "an AWS Region such as us-east-1"),
        )


def _require(environ: Mapping[str, str], name: str, pattern: re.Pattern[str], expected: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"Missing environment variable {name}: set it to {expected}.")
    if not pattern.fullmatch(value):
        raise ConfigurationError(f"Invalid environment variable {name}={value[:80]!r}: expected {expected}.")
    return value
