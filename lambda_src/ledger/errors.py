"""Domain errors of the ledger tool.

Each error carries three things. ``code`` and ``public_message`` go to the
caller. ``reason``, a snake_case code, goes to the audit record so rejections
can be counted by cause. ``detail`` goes to the log and the audit record and
may name the check that failed, but never contains a token, an argument
value or an account number.
"""

from typing import Any

from mesh_identity import redact_secrets


class LedgerError(Exception):
    """Base class of every error the ledger tool maps to a tool response."""

    code = "internal_error"
    reason = "ledger_failed"
    public_message = "The ledger could not complete the request. Try again later."
    # "deny" for every error except an empty result that access rules allowed.
    audit_decision = "deny"
    # True for failures of the ledger itself, which are logged with a traceback.
    is_internal_failure = True

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason


class ConfigurationError(LedgerError):
    """An environment variable of the function is missing or invalid."""

    reason = "configuration_invalid"


class AccessDeniedError(LedgerError):
    """The verified identity is missing, malformed, or lacks the tool's scope."""

    code = "access_denied"
    reason = "identity_rejected"
    public_message = "The request was denied."
    is_internal_failure = False


class UnknownToolError(LedgerError):
    """The Gateway named a tool that this function does not implement."""

    code = "unknown_tool"
    reason = "unknown_tool"
    public_message = "The requested tool is not available on this target."
    is_internal_failure = False


class InvalidArgumentError(LedgerError):
    """A tool argument has the wrong type or format.

    The public message names the argument, shows the received value
    (truncated, with JWT-like and SigV4-like text replaced by ``[redacted]``)
    and states the expected format, so the calling agent can correct the
    call. The detail names only the argument.
    """

    code = "invalid_argument"
    reason = "argument_invalid"
    is_internal_failure = False

    def __init__(self, argument: str, received: Any, expected: str) -> None:
        super().__init__(f"invalid argument {argument}")
        self.argument = argument
        self.public_message = f"Invalid {argument}: received {_truncate_for_message(received)}; expected {expected}."


class InvalidPaginationTokenError(LedgerError):
    """The ``next_token`` is malformed, expired, tampered with, or belongs to another request."""

    code = "invalid_pagination_token"
    reason = "pagination_token_malformed"
    public_message = (
        "Invalid next_token: it is malformed, expired, or was issued for another request. "
        "Repeat the request without next_token."
    )
    is_internal_failure = False


class AccountNotFoundError(LedgerError):
    """The verified customer has no balance item."""

    code = "account_not_found"
    reason = "account_not_found"
    public_message = "No account was found for the signed-in customer."
    audit_decision = "allow"
    is_internal_failure = False


class LedgerUnavailableError(LedgerError):
    """A dependency (STS, KMS or DynamoDB) failed or returned an unexpected response."""

    reason = "dependency_failed"


class IsolationViolationError(LedgerError):
    """A query returned an item of another customer, so the response is withheld."""

    reason = "isolation_violation"


_MAX_SHOWN_CHARACTERS = 40


def _truncate_for_message(value: Any) -> str:
    # repr() escapes control characters, so a hostile value cannot forge lines in the message.
    # Redaction runs before truncation, which could cut a marker such as "AWS4-HMAC-SHA256" short.
    representation = redact_secrets(repr(value))
    if len(representation) > _MAX_SHOWN_CHARACTERS:
        return representation[:_MAX_SHOWN_CHARACTERS] + "... (truncated)"
    return representation
