"""Lambda entry point of the JWKS snapshot function.

Two triggers invoke it:

- CloudFormation, for a custom resource, directly (no provider framework).
  The event has ``RequestType`` Create, Update or Delete. Create and Update
  refresh the snapshot; Delete removes the parameter when the resource's
  physical id is the configured parameter name. The function sends the
  outcome to the event's ResponseURL itself (`cfn_response`). Any error
  becomes a FAILED response with a generic reason, so a deploy stops when the
  JWKS cannot be fetched or is invalid.
- an EventBridge schedule (``"source": "aws.events"`` or
  ``"detail-type": "Scheduled Event"``), which refreshes the snapshot hourly
  and raises on failure, so the invocation counts as an error.

Logs contain the parameter name, the number of keys and their kids, never
key material.
"""

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from mesh_identity.logger import create_logger

from jwks_snapshot import cfn_response
from jwks_snapshot.config import SnapshotConfig
from jwks_snapshot.errors import SnapshotError, UnsupportedEventError
from jwks_snapshot.fetch import fetch_jwks_document
from jwks_snapshot.snapshot import JwksSnapshotter, SnapshotResult
from jwks_snapshot.store import SnapshotParameter

CREATE: Final = "Create"
UPDATE: Final = "Update"
DELETE: Final = "Delete"
SCHEDULE_SOURCE: Final = "aws.events"
SCHEDULE_DETAIL_TYPE: Final = "Scheduled Event"
# CloudFormation limits the size of a custom resource's response, so the kid list in Data is capped.
_MAX_KIDS_DATA_CHARACTERS: Final = 1024

# Masks the account id in the function ARN that inject_lambda_context adds to every line.
logger = create_logger("jwks-snapshot")


def build_snapshotter(
    config: SnapshotConfig,
    *,
    ssm_client: Any = None,
    fetch: Callable[[str], bytes] = fetch_jwks_document,
) -> JwksSnapshotter:
    """Wire the snapshotter for ``config``. Tests pass their own SSM client and fetch timeout."""
    ssm_client = ssm_client or boto3.client("ssm")
    return JwksSnapshotter(config.jwks_url, SnapshotParameter(ssm_client, config.parameter_name), fetch)


@lru_cache(maxsize=1)
def _default_snapshotter() -> JwksSnapshotter:
    return build_snapshotter(SnapshotConfig.from_environment(os.environ))


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Refresh or delete the snapshot as the custom resource or the schedule requests."""
    if is_custom_resource_event(event):
        return respond_to_cloudformation(event, _default_snapshotter)
    return handle(event, _default_snapshotter())


def respond_to_cloudformation(
    event: Mapping[str, Any],
    snapshotter_factory: Callable[[], JwksSnapshotter],
    *,
    send: Callable[[Mapping[str, Any], Mapping[str, Any]], int] = cfn_response.send_response,
) -> dict[str, Any]:
    """Handle a custom resource event and always send CloudFormation a response."""
    try:
        result = on_custom_resource_event(event, snapshotter_factory())
    except Exception as error:  # noqa: BLE001 - every failure must reach CloudFormation as FAILED
        logger.exception("Custom resource request failed", extra={"request_type": str(event.get("RequestType"))[:32]})
        response = cfn_response.build_response(
            event,
            status=cfn_response.FAILED,
            physical_resource_id=_failed_physical_id(event),
            reason=f"JWKS snapshot failed ({type(error).__name__}); see the function's log for details",
        )
    else:
        response = cfn_response.build_response(
            event,
            status=cfn_response.SUCCESS,
            physical_resource_id=str(result.get("PhysicalResourceId") or _failed_physical_id(event)),
            reason="JWKS snapshot done",
            data=result.get("Data"),
        )
    status = send(event, response)
    logger.info("Sent custom resource response", extra={"status": response["Status"], "http_status": status})
    return response


def _failed_physical_id(event: Mapping[str, Any]) -> str:
    # A failed Create gets an id that is not the parameter name, so the Delete
    # that CloudFormation sends next leaves any existing parameter alone.
    return str(event.get("PhysicalResourceId") or f"jwks-snapshot-failed-{event.get('RequestId', 'unknown')}")


def handle(event: Any, snapshotter: JwksSnapshotter) -> dict[str, Any]:
    """Dispatch one invocation to the custom resource or the schedule path."""
    if is_custom_resource_event(event):
        return on_custom_resource_event(event, snapshotter)
    if is_schedule_event(event):
        return _summary(_refresh(snapshotter, trigger="schedule"))

    logger.error("Unsupported event", extra={"event_keys": sorted(event)[:20] if isinstance(event, Mapping) else []})
    raise UnsupportedEventError(
        "Unsupported event: expected a CloudFormation custom resource event with RequestType "
        "or an EventBridge Scheduled Event."
    )


def is_custom_resource_event(event: Any) -> bool:
    """Tell whether ``event`` comes from the CDK Provider framework."""
    return isinstance(event, Mapping) and "RequestType" in event


def is_schedule_event(event: Any) -> bool:
    """Tell whether ``event`` comes from an EventBridge schedule."""
    if not isinstance(event, Mapping):
        return False
    return event.get("source") == SCHEDULE_SOURCE or event.get("detail-type") == SCHEDULE_DETAIL_TYPE


def on_custom_resource_event(event: Mapping[str, Any], snapshotter: JwksSnapshotter) -> dict[str, Any]:
    """Handle a Provider framework ``onEvent`` call and return its response."""
    request_type = event.get("RequestType")
    if request_type in (CREATE, UPDATE):
        result = _refresh(snapshotter, trigger=f"custom_resource_{request_type.lower()}")
        return {"PhysicalResourceId": snapshotter.parameter_name, "Data": _resource_data(result)}
    if request_type == DELETE:
        return _delete(event.get("PhysicalResourceId"), snapshotter)

    logger.error("Unsupported custom resource request type", extra={"request_type": str(request_type)[:32]})
    raise UnsupportedEventError(
        f"Unsupported RequestType {str(request_type)[:32]!r}: expected Create, Update or Delete."
    )


def _refresh(snapshotter: JwksSnapshotter, *, trigger: str) -> SnapshotResult:
    try:
        result = snapshotter.refresh()
    except SnapshotError:
        # The error is raised again, so CloudFormation fails the resource or the Lambda Errors metric counts it.
        logger.exception(
            "JWKS snapshot failed", extra={"trigger": trigger, "parameter_name": snapshotter.parameter_name}
        )
        raise

    logger.info(
        "JWKS snapshot refreshed" if result.changed else "JWKS snapshot unchanged",
        extra={
            "trigger": trigger,
            "parameter_name": result.parameter_name,
            "key_count": len(result.kids),
            "kids": list(result.kids),
            "changed": result.changed,
            "version": result.version,
            "tier": result.tier,
        },
    )
    return result


def _delete(physical_id: Any, snapshotter: JwksSnapshotter) -> dict[str, Any]:
    # The physical id of this resource is the parameter name. After a failed
    # create, or after the configured name changed, it is some other value,
    # and the parameter it would name is not this function's to delete.
    # NOTE: a parameter left behind by a rename has to be deleted by hand.
    if physical_id != snapshotter.parameter_name:
        logger.warning(
            "Skipped deleting a parameter this function does not own",
            extra={"physical_resource_id": str(physical_id)[:256], "parameter_name": snapshotter.parameter_name},
        )
    else:
        deleted = snapshotter.delete()
        message = "JWKS snapshot deleted" if deleted else "JWKS snapshot was already absent"
        logger.info(message, extra={"parameter_name": snapshotter.parameter_name})

    return {"PhysicalResourceId": physical_id} if isinstance(physical_id, str) else {}


def _resource_data(result: SnapshotResult) -> dict[str, str]:
    return {
        "ParameterName": result.parameter_name,
        "KeyCount": str(len(result.kids)),
        "KeyIds": ",".join(result.kids)[:_MAX_KIDS_DATA_CHARACTERS],
        "Changed": "true" if result.changed else "false",
    }


def _summary(result: SnapshotResult) -> dict[str, Any]:
    return {
        "parameter_name": result.parameter_name,
        "key_count": len(result.kids),
        "kids": list(result.kids),
        "changed": result.changed,
    }

