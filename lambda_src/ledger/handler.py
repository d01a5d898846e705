"""Lambda entry point of the ledger tool, an AgentCore Gateway Lambda target.

Invocation contract, from the AgentCore Developer Guide pages "AWS Lambda
function targets" (section "Lambda function input format",
https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-add-target-lambda.html)
and "Understand how AgentCore Gateway tools are named"
(https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-tool-naming.html):

- ``event`` is the tool's arguments as a JSON object, with no envelope. The
  mesh's REQUEST interceptor adds the verified identity under
  ``VERIFIED_IDENTITY_KEY``.
- ``context.client_context.custom["bedrockAgentCoreToolName"]`` is the tool
  name as the MCP client sees it, ``<target name>___<tool name>``, and the
  function strips the prefix itself. The AWS samples also read
  ``bedrockAgentCoreGatewayId``, ``bedrockAgentCoreTargetId``,
  ``bedrockAgentCoreMcpMessageId`` and ``bedrockAgentCoreAwsRequestId`` from
  the same object. They are copied into the audit record when present.
- The function must return a JSON response that the Gateway can parse.

Responses: the tool's result object on success, or
``{"error": {"code", "message", "request_id"}}``. The message is generic except
for invalid arguments, where it names the argument and the expected format.
NOTE: the guide does not say how a Lambda target marks an MCP result as an
error (``isError``), so errors are returned as data rather than raised. A
raised exception would reach the caller as a Lambda function error.
"""

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from mesh_identity.audit import audit
from mesh_identity.constants import VERIFIED_IDENTITY_KEY
from mesh_identity.logger import create_logger

from ledger.config import LedgerConfig
from ledger.credentials import CustomerCredentialProvider, DynamoDbClientFactory, regional_dynamodb_client_factory
from ledger.errors import AccessDeniedError, LedgerError, LedgerUnavailableError, UnknownToolError
from ledger.identity import VerifiedIdentity, parse_verified_identity
from ledger.pagination import PaginationTokenCodec
from ledger.repository import LedgerRepository
from ledger.tools import LedgerService

AUDIT_HOP: Final = "ledger"
TOOL_NAME_CONTEXT_KEY: Final = "bedrockAgentCoreToolName"
TARGET_TOOL_DELIMITER: Final = "___"
# Client-context members copied into the audit record, under the names on the right.
_GATEWAY_CONTEXT_IDS: Final = {
    "bedrockAgentCoreGatewayId": "gateway_id",
    "bedrockAgentCoreTargetId": "gateway_target_id",
    "bedrockAgentCoreMcpMessageId": "mcp_message_id",
    "bedrockAgentCoreAwsRequestId": "gateway_request_id",
}
_MAX_ID_LENGTH: Final = 128

# Masks the account id in the function ARN that inject_lambda_context adds to every line.
logger = create_logger("ledger")


def build_service(
    config: LedgerConfig,
    *,
    sts_client: Any = None,
    kms_client: Any = None,
    dynamodb_client_factory: DynamoDbClientFactory | None = None,
) -> LedgerService:
    """Wire the ledger service. Tests pass their own clients and client factory."""
    sts_client = sts_client or boto3.client("sts", region_name=config.region)
    kms_client = kms_client or boto3.client("kms", region_name=config.region)
    factory = dynamodb_client_factory or regional_dynamodb_client_factory(config.region)

    credentials = CustomerCredentialProvider(sts_client, config.reader_role_arn, factory)
    repository = LedgerRepository(config.table_name, credentials.dynamodb_client)
    pagination = PaginationTokenCodec(kms_client, config.pagination_key_id)
    return LedgerService(repository, pagination)


@lru_cache(maxsize=1)
def _default_service() -> LedgerService:
    return build_service(LedgerConfig.from_environment(os.environ))


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Run the tool that the Gateway named for the verified customer and return its result."""
    return handle(event, context, _default_service())


def handle(event: Any, context: Any, service: LedgerService) -> dict[str, Any]:
    """Run one tool call and write exactly one audit record for it.

    Every outcome is returned as a response body. Nothing from the event
    other than the identifiers of the verified identity reaches the log.
    """
    context_ids = _gateway_context_ids(context)
    request_id = str(getattr(context, "aws_request_id", ""))[:_MAX_ID_LENGTH]
    tool_name = _tool_name(context)
    identity: VerifiedIdentity | None = None

    try:
        if not isinstance(event, Mapping):
            raise AccessDeniedError(
                f"event is a {type(event).__name__}, expected a JSON object", reason="event_malformed"
            )
        identity = parse_verified_identity(event)
        if tool_name is None:
            raise UnknownToolError(f"client context has no {TOOL_NAME_CONTEXT_KEY}")

        arguments = {name: value for name, value in event.items() if name != VERIFIED_IDENTITY_KEY}
        result = service.call(tool_name, identity, arguments)
    except LedgerError as error:
        return _reject(error, error, identity, tool_name, request_id, context_ids)
    except Exception as error:  # noqa: BLE001 - the caller gets a generic error, the log gets the trace.
        failure = LedgerUnavailableError(f"unexpected {type(error).__name__}", reason="unexpected_error")
        return _reject(failure, error, identity, tool_name, request_id, context_ids)

    _audit("allow", "tool_served", identity, tool_name, request_id, context_ids, result.audit_fields)
    return result.body


def _reject(
    error: LedgerError,
    raised: BaseException,
    identity: VerifiedIdentity | None,
    tool_name: str | None,
    request_id: str,
    context_ids: dict[str, str],
) -> dict[str, Any]:
    # A failure of the ledger is logged with its traceback. A rejected request gets only its audit record.
    if error.is_internal_failure:
        logger.error(
            "Ledger tool failed",
            extra={"reason": error.reason, "detail": error.detail, "tool": tool_name, "request_id": request_id},
            exc_info=raised,
        )
    extra = {"error_code": error.code, "detail": error.detail}
    _audit(error.audit_decision, error.reason, identity, tool_name, request_id, context_ids, extra)
    return {"error": {"code": error.code, "message": error.public_message, "request_id": request_id}}


def _audit(
    decision: str,
    reason: str,
    identity: VerifiedIdentity | None,
    tool_name: str | None,
    request_id: str,
    context_ids: dict[str, str],
    extra: Mapping[str, Any],
) -> None:
    gateway_id = context_ids.get("gateway_id")
    audit(
        AUDIT_HOP,
        decision,
        reason,
        principal=f"gateway/{gateway_id}" if gateway_id else None,
        sub=identity.sub if identity else None,
        session_id=identity.session_id if identity else None,
        logger=logger,
        tool=tool_name,
        client_id=identity.client_id if identity else None,
        request_id=request_id,
        **context_ids,
        **extra,
    )


def _client_context_custom(context: Any) -> Mapping[str, Any]:
    custom = getattr(getattr(context, "client_context", None), "custom", None)
    return custom if isinstance(custom, Mapping) else {}


def _tool_name(context: Any) -> str | None:
    """Return the tool name without the ``<target>___`` prefix, or None if the context has none.

    A name without the prefix, as a local test harness may send it, is returned unchanged.
    """
    qualified = _client_context_custom(context).get(TOOL_NAME_CONTEXT_KEY)
    if not isinstance(qualified, str) or not qualified:
        return None
    # Tool names of this target contain no "___", so the last delimiter ends the target name.
    return qualified.rpartition(TARGET_TOOL_DELIMITER)[2][:_MAX_ID_LENGTH]


def _gateway_context_ids(context: Any) -> dict[str, str]:
    custom = _client_context_custom(context)
    return {
        name: value[:_MAX_ID_LENGTH]
        for key, name in _GATEWAY_CONTEXT_IDS.items()
        if isinstance(value := custom.get(key), str)
    }


# In Lambda, validate the environment during the init phase, so a missing
# variable fails the cold start with its name instead of the first request.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    _default_service()
