"""The SSM String parameter that contains the JWKS snapshot."""

from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from jwks_snapshot.errors import InvalidJwksError, ParameterStoreError

# Maximum value sizes of SSM parameter tiers (bytes).
STANDARD_TIER_MAX_BYTES: Final = 4096
ADVANCED_TIER_MAX_BYTES: Final = 8192

DESCRIPTION: Final = (
    "Public signing keys (JWKS) of the mesh's Cognito user pool. Written by the jwks_snapshot "
    "function on every deploy and hourly. Contains no secrets."
)


def choose_tier(value: str, previous_value: str | None) -> str:
    """Return the SSM tier for ``value``: Standard when it fits, otherwise Advanced.

    SSM cannot move a parameter from Advanced back to Standard, so a parameter
    whose previous value needed Advanced stays Advanced.
    """
    size = len(value.encode())
    if size > ADVANCED_TIER_MAX_BYTES:
        raise InvalidJwksError(
            f"The canonical JWKS is {size} bytes, larger than the {ADVANCED_TIER_MAX_BYTES}-byte limit of an "
            "SSM parameter."
        )

    previous_size = len(previous_value.encode()) if previous_value is not None else 0
    # NOTE: the previous value's size is used in place of its tier, because only
    # DescribeParameters returns the tier and that action cannot be limited to one
    # parameter. A parameter made Advanced by hand with a small value would make the
    # Standard write fail.
    if size <= STANDARD_TIER_MAX_BYTES and previous_size <= STANDARD_TIER_MAX_BYTES:
        return "Standard"
    return "Advanced"


class SnapshotParameter:
    """Read, write and delete the one SSM parameter this function owns."""

    def __init__(self, ssm_client: Any, name: str) -> None:
        self._ssm = ssm_client
        self.name = name

    def read(self) -> str | None:
        """Return the parameter's value, or None if the parameter does not exist."""
        try:
            response = self._ssm.get_parameter(Name=self.name)
        except ClientError as error:
            if _error_code(error) == "ParameterNotFound":
                return None
            raise ParameterStoreError(f"Reading SSM parameter {self.name} failed: {_error_code(error)}.") from error
        except BotoCoreError as error:
            raise ParameterStoreError(f"Reading SSM parameter {self.name} failed: {type(error).__name__}.") from error
        return response["Parameter"]["Value"]

    def write(self, value: str, *, tier: str) -> int:
        """Write ``value`` as a String parameter, replacing any previous value, and return the new version."""
        try:
            response = self._ssm.put_parameter(
                Name=self.name,
                Value=value,
                Type="String",
                Tier=tier,
                Overwrite=True,
                Description=DESCRIPTION,
                DataType="text",
            )
        except ClientError as error:
            raise ParameterStoreError(f"Writing SSM parameter {self.name} failed: {_error_code(error)}.") from error
        except BotoCoreError as error:
            raise ParameterStoreError(f"Writing SSM parameter {self.name} failed: {type(error).__name__}.") from error
        return int(response["Version"])

    def delete(self) -> bool:
        """Delete the parameter and return True, or return False if it did not exist."""
        try:
            self._ssm.delete_parameter(Name=self.name)
        except ClientError as error:
            if _error_code(error) == "ParameterNotFound":
                return False
            raise ParameterStoreError(f"Deleting SSM parameter {self.name} failed: {_error_code(error)}.") from error
        except BotoCoreError as error:
            raise ParameterStoreError(f"Deleting SSM parameter {self.name} failed: {type(error).__name__}.") from error
        return True


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
