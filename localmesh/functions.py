"""Lambda functions run in this process: the handler the template names, with the environment it would get.

`LocalFunction` is the local counterpart of one Lambda execution environment.
`cold_start` imports the handler's module afresh (``importlib.reload``), so
module-level state such as cached clients is created again, and the module's
init-phase validation runs again, under the function's own environment.
`invoke` passes a JSON copy of the event and a Lambda context, and returns a
JSON copy of the result.

Environment variables are process-wide, so each call runs with the function's
variables laid over ``os.environ`` under one lock: only one local Lambda
invocation runs at a time. The overlay also swaps boto3's default session, so
each function resolves credentials and endpoints from its own environment.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger

from .template import FunctionSpec

# Prefixes of variables that Lambda sets itself or that come from the caller's
# shell. They are cleared for the call, so the function gets only its own set.
_CLEARED_PREFIXES: Final = ("AWS_", "MESH_", "LEDGER_", "POWERTOOLS_", "JWKS_")

# One lock for every local function, because os.environ is shared by the process.
_ENVIRONMENT_LOCK: Final = threading.RLock()


class FunctionError(Exception):
    """The handler raised; Lambda would report this as a function error (``Unhandled``)."""


@dataclass
class ClientContext:
    """The ``client_context`` of a Lambda context: the caller-supplied ``custom`` map."""

    custom: dict[str, Any]
    client: Any = None
    env: Any = None


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local-mesh"
    client_context: ClientContext | None = None
    identity: Any = None
    _started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LocalFunction:
    """One Lambda function of the template, run in this process.

    Parameters
    ----------
    spec:
        The function's resource in the template (handler, limits).
    name, arn:
        The function's local name and ARN, as the context reports them.
    environment:
        Every variable of the function's environment: the template's resolved
        variables, what Lambda sets (region, credentials of the function's
        role) and the local endpoint override.
    """

    def __init__(self, spec: FunctionSpec, *, name: str, arn: str, environment: Mapping[str, str]) -> None:
        module_name, _, function_name = spec.handler.rpartition(".")
        self.spec = spec
        self.name = name
        self.arn = arn
        self._module_name = module_name
        self._function_name = function_name
        self._environment = {
            **dict(environment),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        }
        self._session: boto3.session.Session | None = None
        self._module: ModuleType | None = None

    @property
    def module(self) -> ModuleType:
        """The handler's module after `cold_start`."""
        if self._module is None:
            raise RuntimeError(f"function {self.name} has not been started; call cold_start() first")
        return self._module

    def loggers(self) -> list[str]:
        """Names of the Powertools loggers the handler's module created."""
        return [value.name for value in vars(self.module).values() if isinstance(value, Logger)]

    def cold_start(self) -> None:
        """Import the handler module afresh under the function's environment, as a new execution environment does.

        Raises whatever the module's init phase raises, such as a configuration
        error naming a missing variable.
        """
        with self._environment_applied():
            module = importlib.import_module(self._module_name)
            module = importlib.reload(module)
        handler = getattr(module, self._function_name, None)
        if not callable(handler):
            raise AttributeError(f"{self.spec.handler} does not name a function of module {self._module_name}")
        self._module = module

    def retire(self) -> None:
        """Import the module afresh once more, outside the function's environment, to drop its cached state."""
        if self._module is None:
            return
        importlib.reload(self._module)
        self._module = None
        self._session = None

    def invoke(self, event: Any, *, client_context: Mapping[str, Any] | None = None) -> Any:
        """Run the handler with a JSON copy of ``event`` and return a JSON copy of its result.

        Raises `FunctionError` from the handler's exception.
        """
        payload = json.loads(json.dumps(event))
        context = LambdaContext(
            function_name=self.name,
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.spec.memory_mb,
            timeout_seconds=self.spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{self.name}",
            client_context=ClientContext(custom=dict(client_context)) if client_context is not None else None,
        )
        handler = getattr(self.module, self._function_name)
        with self._environment_applied():
            try:
                result = handler(payload, context)
            except Exception as error:
                raise FunctionError(f"{self.name} raised {type(error).__name__}") from error
        # NOTE: the function's Timeout is not enforced; a call that would time
        # out on Lambda only takes long here.
        return json.loads(json.dumps(result))

    @contextlib.contextmanager
    def _environment_applied(self) -> Iterator[None]:
        with _ENVIRONMENT_LOCK:
            saved = {name: value for name, value in os.environ.items() if name.startswith(_CLEARED_PREFIXES)}
            saved_session = boto3.DEFAULT_SESSION
            for name in saved:
                del os.environ[name]
            os.environ.update(self._environment)
            if self._session is None:
                self._session = boto3.session.Session()
            boto3.DEFAULT_SESSION = self._session
            try:
                yield
            finally:
                boto3.DEFAULT_SESSION = saved_session
                for name in self._environment:
                    os.environ.pop(name, None)
                os.environ.update(saved)
