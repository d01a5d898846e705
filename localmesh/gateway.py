"""A local stand-in for the mesh's AgentCore Gateway: SigV4, the REQUEST interceptor, then the Lambda target.

For each ``POST /mcp`` it does what the template configures the Gateway to do:

1. verify SigV4 (signing name ``bedrock-agentcore``) and admit only a role
   whose identity policy allows ``InvokeGateway`` (`PolicyGraph.gateway_callers`);
2. call the interceptor function with the documented input
   (``interceptorInputVersion`` 1.0, ``mcp.gatewayRequest`` with the request
   headers when ``PassRequestHeaders`` is on, and the parsed JSON-RPC body);
3. return the interceptor's ``transformedGatewayResponse`` if it has one, or
   else serve its ``transformedGatewayRequest``: lifecycle methods and
   ``tools/list`` here, ``tools/call`` by invoking the target's function with
   the tool arguments as the event and the tool name in
   ``context.client_context.custom["bedrockAgentCoreToolName"]``.

A tool's JSON result goes back as MCP text content. The Gateway invokes a
function only if a Lambda permission of the template lets the Gateway's role
do so. Every request writes one audit record (hop ``gateway_standin``).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from mesh_identity.audit import audit
from mesh_identity.constants import AGENTCORE_SIGNING_NAME, PROPAGATED_HEADERS

from .functions import FunctionError, LocalFunction
from .http import LoopbackServer, Reply
from .sigv4 import CredentialRegistry, Principal, ReceivedRequest, SigV4Rejected, SigV4Verifier
from .spans import SpanRecorder
from .template import GatewaySpec, GatewayTargetSpec, MeshTemplate, TemplateError

AUDIT_HOP: Final = "gateway_standin"
MCP_PATH: Final = "/mcp"
INVOKE_ACTION: Final = "bedrock-agentcore:InvokeGateway"
INTERCEPTOR_INPUT_VERSION: Final = "1.0"
TOOL_NAME_DELIMITER: Final = "___"
# JSON-RPC 2.0 error codes (specification, section 5.1).
JSONRPC_PARSE_ERROR: Final = -32700
JSONRPC_INVALID_REQUEST: Final = -32600
JSONRPC_METHOD_NOT_FOUND: Final = -32601
JSONRPC_INVALID_PARAMS: Final = -32602
JSONRPC_INTERNAL_ERROR: Final = -32603
LIFECYCLE_METHODS: Final = frozenset({"initialize", "ping"})


class Gateway:
    """The Gateway stand-in for the template's single Gateway.

    ``functions`` maps each function's logical id to its `LocalFunction`;
    the interceptor and every target's function must be among them.
    """

    def __init__(
        self,
        template: MeshTemplate,
        registry: CredentialRegistry,
        functions: Mapping[str, LocalFunction],
        *,
        gateway_id: str,
        region: str,
        logger: Logger,
        spans: SpanRecorder,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._template = template
        self._spec: GatewaySpec = template.gateway
        self._functions = dict(functions)
        self._gateway_id = gateway_id
        self._verifier = SigV4Verifier(registry, region=region, service=AGENTCORE_SIGNING_NAME, clock=clock)
        self._logger = logger
        self._spans = spans
        self._targets = {target.name: target for target in self._spec.targets}
        self._check_template()
        self._server = LoopbackServer("agentcore-gateway-standin", self.handle)

    @property
    def url(self) -> str:
        """The Gateway's MCP endpoint."""
        return self._server.base_url + MCP_PATH

    def start(self) -> None:
        """Start serving on loopback."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def _check_template(self) -> None:
        if self._spec.authorizer_type != "AWS_IAM":
            raise TemplateError(
                f"gateway {self._spec.logical_id} has AuthorizerType {self._spec.authorizer_type!r}; "
                "the local mesh models AWS_IAM only"
            )
        functions = [target.function for target in self._spec.targets]
        if self._spec.interceptor is not None:
            functions.append(self._spec.interceptor)
        for function in functions:
            if function.logical_id not in self._functions:
                raise TemplateError(
                    f"function {function.logical_id} of gateway {self._spec.logical_id} is not running locally"
                )
            if not self._template.function_invocable_by(function, self._spec.role_logical_id):
                raise TemplateError(
                    f"no Lambda permission lets the gateway role {self._spec.role_logical_id} "
                    f"invoke {function.logical_id}"
                )

    def handle(self, request: ReceivedRequest) -> Reply:
        """Authorize one MCP request, run the interceptor and the target, and return the reply."""
        path = request.target.partition("?")[0]
        if path != MCP_PATH:
            return Reply.json(404, {"message": f"The gateway serves MCP at {MCP_PATH} only."})
        if request.method != "POST":
            return Reply.json(405, {"message": "MCP requests must be POST."}, {"Allow": "POST"})

        started = time.perf_counter()
        try:
            principal = self._verifier.verify(request, must_sign=["content-type", *PROPAGATED_HEADERS])
        except SigV4Rejected as error:
            self._audit("deny", error.reason)
            return Reply.aws_error(403, error.error_code, str(error))
        caller = self._template.agent_of_role(principal.role_logical_id)
        if caller is None or caller not in self._template.policy.gateway_callers():
            self._audit("deny", "caller_not_allowed_by_policy", principal=principal.role_arn)
            return Reply.aws_error(
                403,
                "AccessDeniedException",
                f"User: {principal.role_arn} is not authorized to perform: {INVOKE_ACTION} "
                f"on resource: gateway/{self._gateway_id}",
            )
        self._spans.record("gateway:authorize", time.perf_counter() - started)

        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._audit("deny", "mcp_body_not_json", principal=principal.role_arn)
            return _jsonrpc_error(400, None, JSONRPC_PARSE_ERROR, "Parse error")

        self._audit("allow", "gateway_request_accepted", principal=principal.role_arn, mcp_method=_method_of(body))
        return self._intercept_and_serve(request, body, principal)

    def _intercept_and_serve(self, request: ReceivedRequest, body: Any, principal: Principal) -> Reply:
        if self._spec.interceptor is None:
            return self._serve(body)

        started = time.perf_counter()
        try:
            output = self._functions[self._spec.interceptor.logical_id].invoke(self._interceptor_event(request, body))
        except FunctionError:
            self._logger.exception("The interceptor function failed", extra={"principal": principal.role_arn})
            return _jsonrpc_error(500, _id_of(body), JSONRPC_INTERNAL_ERROR, "Internal error")
        finally:
            self._spans.record("gateway:interceptor", time.perf_counter() - started)

        mcp = output.get("mcp") if isinstance(output, Mapping) else None
        if (
            not isinstance(output, Mapping)
            or output.get("interceptorOutputVersion") != "1.0"
            or not isinstance(mcp, Mapping)
        ):
            self._logger.error("The interceptor returned an output of the wrong shape")
            return _jsonrpc_error(500, _id_of(body), JSONRPC_INTERNAL_ERROR, "Internal error")
        if "transformedGatewayResponse" in mcp:
            return _interceptor_response(mcp["transformedGatewayResponse"])
        transformed = mcp.get("transformedGatewayRequest")
        if not isinstance(transformed, Mapping) or "body" not in transformed:
            self._logger.error("The interceptor output has neither a transformed request nor a response")
            return _jsonrpc_error(500, _id_of(body), JSONRPC_INTERNAL_ERROR, "Internal error")
        return self._serve(transformed["body"])

    def _interceptor_event(self, request: ReceivedRequest, body: Any) -> dict[str, Any]:
        gateway_request: dict[str, Any] = {"path": MCP_PATH, "httpMethod": "POST", "body": body}
        if self._spec.pass_request_headers:
            gateway_request["headers"] = _header_map(request)
        return {
            "interceptorInputVersion": INTERCEPTOR_INPUT_VERSION,
            "mcp": {"rawGatewayRequest": {"body": request.body.decode("utf-8")}, "gatewayRequest": gateway_request},
        }

    def _serve(self, body: Any) -> Reply:
        if not isinstance(body, Mapping) or body.get("jsonrpc") != "2.0" or not isinstance(body.get("method"), str):
            return _jsonrpc_error(400, _id_of(body), JSONRPC_INVALID_REQUEST, "Invalid Request")
        method, request_id = body["method"], body.get("id")

        if method.startswith("notifications/"):
            return Reply(status=202)
        if method == "initialize":
            return _jsonrpc_result(request_id, self._initialize_result(body.get("params")))
        if method == "ping":
            return _jsonrpc_result(request_id, {})
        if method == "tools/list":
            return _jsonrpc_result(request_id, {"tools": self._tool_list()})
        if method == "tools/call":
            return self._call_tool(request_id, body.get("params"))
        return _jsonrpc_error(200, request_id, JSONRPC_METHOD_NOT_FOUND, "Method not found")

    def _initialize_result(self, params: Any) -> dict[str, Any]:
        requested = params.get("protocolVersion") if isinstance(params, Mapping) else None
        supported = self._spec.protocol_versions or ("2025-03-26",)
        return {
            "protocolVersion": requested if requested in supported else supported[-1],
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self._spec.name, "version": "local-mesh"},
        }

    def _tool_list(self) -> list[dict[str, Any]]:
        return [
            {
                "name": f"{target.name}{TOOL_NAME_DELIMITER}{tool.name}",
                "description": tool.description,
                "inputSchema": dict(tool.input_schema),
            }
            for target in self._spec.targets
            for tool in target.tools
        ]

    def _call_tool(self, request_id: Any, params: Any) -> Reply:
        name = params.get("name") if isinstance(params, Mapping) else None
        arguments = params.get("arguments", {}) if isinstance(params, Mapping) else None
        target_name, _, tool_name = name.rpartition(TOOL_NAME_DELIMITER) if isinstance(name, str) else ("", "", "")
        target = self._targets.get(target_name)
        if (
            target is None
            or tool_name not in {tool.name for tool in target.tools}
            or not isinstance(arguments, Mapping)
        ):
            return _jsonrpc_error(200, request_id, JSONRPC_INVALID_PARAMS, "Unknown tool or invalid arguments")

        started = time.perf_counter()
        try:
            result = self._functions[target.function.logical_id].invoke(
                arguments, client_context=self._client_context(target, name, request_id)
            )
        except FunctionError:
            self._logger.exception("The target function failed", extra={"tool": name})
            # NOTE: how the Gateway reports a Lambda function error is not
            # documented; the stand-in returns an MCP tool error without details.
            return _jsonrpc_result(
                request_id, {"content": [{"type": "text", "text": "The tool failed."}], "isError": True}
            )
        finally:
            self._spans.record("gateway:target", time.perf_counter() - started)
        return _jsonrpc_result(
            request_id, {"content": [{"type": "text", "text": json.dumps(result)}], "isError": False}
        )

    def _client_context(self, target: GatewayTargetSpec, tool_name: str, request_id: Any) -> dict[str, Any]:
        return {
            "bedrockAgentCoreToolName": tool_name,
            "bedrockAgentCoreGatewayId": self._gateway_id,
            "bedrockAgentCoreTargetId": local_target_id(target),
            "bedrockAgentCoreMcpMessageId": str(request_id),
            "bedrockAgentCoreAwsRequestId": str(uuid.uuid4()),
            "bedrockAgentCoreMessageVersion": "1.0",
        }

    def _audit(self, decision: str, reason: str, **ids: Any) -> None:
        audit(AUDIT_HOP, decision, reason, logger=self._logger, gateway_id=self._gateway_id, **ids)


def local_target_id(target: GatewayTargetSpec) -> str:
    """A stable 10-character target id, shaped like the ids AgentCore assigns."""
    return hashlib.sha256(target.logical_id.encode("utf-8")).hexdigest()[:10].upper()


def _header_map(request: ReceivedRequest) -> dict[str, str]:
    # NOTE: the shape of repeated headers in the interceptor input is not
    # documented. The stand-in folds them into one comma-separated value
    # (RFC 9110, section 5.3), which the mesh's header checks reject.
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _interceptor_response(response: Any) -> Reply:
    if not isinstance(response, Mapping):
        return _jsonrpc_error(500, None, JSONRPC_INTERNAL_ERROR, "Internal error")
    body = response.get("body")
    encoded = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    headers = {str(name): str(value) for name, value in (response.get("headers") or {}).items()}
    headers.setdefault("Content-Type", "application/json")
    return Reply(status=int(response.get("statusCode") or 200), body=encoded, headers=headers)


def _jsonrpc_result(request_id: Any, result: Mapping[str, Any]) -> Reply:
    return Reply.json(200, {"jsonrpc": "2.0", "id": request_id, "result": dict(result)})


def _jsonrpc_error(status: int, request_id: Any, code: int, message: str) -> Reply:
    return Reply.json(status, {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def _id_of(body: Any) -> Any:
    return body.get("id") if isinstance(body, Mapping) else None


def _method_of(body: Any) -> str | None:
    method = body.get("method") if isinstance(body, Mapping) else None
    return method[:64] if isinstance(method, str) else None
