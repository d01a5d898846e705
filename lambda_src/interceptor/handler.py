"""AWS Lambda entry point of the mesh Gateway's REQUEST interceptor.

The Gateway invokes this function before every call to a target, with the
event and output shapes documented in the AgentCore Developer Guide, "Types
of interceptors":
https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-interceptors-types.html
The interceptor must be configured with ``passRequestHeaders: true``
(https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-interceptors-configuration.html),
because the user token and session id arrive in request headers.

Environment: the ``MESH_*`` variables read by `verifier_from_env`, and
optionally ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_LOG_LEVEL``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Final

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mesh_identity.logger import create_logger
from mesh_identity.tokens import TokenVerifier, verifier_from_env

from interceptor.decision import intercept

DEFAULT_SERVICE_NAME: Final = "mesh-gateway-interceptor"

# The function ARN that inject_lambda_context adds to every line contains the
# account id, which this logger's formatter masks.
logger = create_logger(os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME)
# The identity library logs JWKS reloads through the standard logging module.
# This gives those lines the same JSON format, masking and Lambda context keys.
copy_config_to_registered_loggers(source_logger=logger, include={"mesh_identity"})


@lru_cache(maxsize=1)
def get_verifier() -> TokenVerifier:
    """Return the token verifier, built from the environment on first use in each execution environment.

    A build that raises is not cached, so every invocation after a
    configuration error fails closed the same way and names the variable.
    """
    return verifier_from_env()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the interceptor output for one Gateway request: forward it rewritten, or deny it."""
    return intercept(event, get_verifier, logger=logger)
