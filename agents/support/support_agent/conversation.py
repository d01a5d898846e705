# SPDX-License-Identifier: Apache-2.0
"""One turn of a support conversation, independent of the HTTP framework."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from aws_lambda_powertools import Logger

from mesh_identity.audit import audit
from mesh_identity.constants import AUTHORIZATION_HEADER, RUNTIME_SESSION_ID_HEADER
from mesh_identity.errors import DuplicateHeader, InvalidHeader, MissingHeader, TokenRejected
from mesh_identity.headers import bearer_token, find_single_header, validate_session_id
from mesh_identity.logger import create_logger

from . import answers
from .memory import ConversationMemory, MemoryUnavailable
from .model import Model, ModelTurn, ModelUnavailable, ToolUse
from .peers import PeerCallFailed, PeerCallRefused, PeerInvoker, PeerToolError
from .tools import InvalidToolArguments, MeshTool, ToolCatalog, validate_arguments

HOP: Final = "support_agent"
SERVICE_NAME: Final = "support-agent"

# Maximum length of the user's question (characters).
MAX_PROMPT_CHARACTERS: Final = 4000
# Maximum number of model turns that request tools before the agent gives up.
DEFAULT_MAX_TOOL_ROUNDS: Final = 4

# The runtime session id is also the Memory session id. Besides the mesh's own
# rule (validate_session_id), it must fit Memory's sessionId: at most 100
# characters of [a-zA-Z0-9][a-zA-Z0-9-_]* (bedrock-agentcore model, botocore 1.44).
_MEMORY_SESSION_ID_PATTERN: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}")

SYSTEM_PROMPT: Final = (
    "You are the customer support assistant of a bank. You answer questions about the signed-in "
    "customer's own account by calling the tools you are given; you have no other source of account "
    "data. Call a tool only when the question needs it, never guess a balance or a transaction, and "
    "never ask for passwords, card numbers or one-time codes. If no tool fits the question, say what "
    "you can help with. Answer briefly and in plain language."
)


class TokenVerifier(Protocol):
    """The part of mesh_identity.tokens.TokenVerifier the agent uses."""

    def verify(self, token: str, *, required_scopes: Sequence[str] | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """HTTP status and JSON body returned to the user's client."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)


def _answer(text: str, status: int = 200, error: str | None = None) -> Reply:
    body: dict[str, Any] = {"answer": text}
    if error is not None:
        body["error"] = error
    return Reply(status, body)


class _TurnEnded(Exception):
    """A tool call failed in a way that ends the turn with a fixed answer."""

    def __init__(self, answer: str, reason: str, tool: str) -> None:
        super().__init__(reason)
        self.answer = answer
        self.reason = reason
        self.tool = tool


class SupportAgent:
    """Request logic of the Support agent, from the user's message to the stored answer.

    For each request the agent verifies the user, loads the history, runs the
    model and the tools it requests, and stores the exchange. The user token
    is read from the Authorization header and goes only to the token verifier
    and to the peer call's signed header. Memory, the model and the logs
    receive the question, the answer, tool results and identifiers
    (``sub``, session id), never the token.

    Each request writes one audit record. It is ``allow`` when the model
    finished the turn (the reason says whether it answered) and ``deny`` with
    the reason otherwise. A failure of Memory does not fail the request and
    is logged as a warning.
    """

    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        memory: ConversationMemory,
        model: Model,
        peers: PeerInvoker,
        tools: ToolCatalog,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        system_prompt: str = SYSTEM_PROMPT,
        logger: Logger | None = None,
    ) -> None:
        self._logger = logger or create_logger(SERVICE_NAME)
        self._verifier = verifier
        self._memory = memory
        self._model = model
        self._peers = peers
        self._tools = tools
        self._max_tool_rounds = max_tool_rounds
        self._system_prompt = system_prompt

    def handle(self, payload: Any, headers: Sequence[tuple[str, str]]) -> Reply:
        """Return the reply to one request; an unexpected exception becomes a generic 500 reply."""
        try:
            return self._handle(payload, headers)
        except Exception as error:  # noqa: BLE001 - the last line of defence must not leak details
            # Only the exception type is logged: a message or traceback could quote a header value.
            self._logger.error("Support request failed", extra={"error_type": type(error).__name__})
            self._audit("deny", "internal_error")
            return _answer(answers.INTERNAL_ERROR, 500, "internal_error")

    def _handle(self, payload: Any, headers: Sequence[tuple[str, str]]) -> Reply:
        session_id = _session_id(headers)
        if session_id is None:
            self._audit("deny", "session_id_invalid")
            return _answer(answers.INVALID_SESSION, 400, "invalid_session")

        try:
            user_token = bearer_token(find_single_header(headers, AUTHORIZATION_HEADER))
        except (MissingHeader, DuplicateHeader, InvalidHeader) as error:
            self._audit("deny", f"authorization_{error.reason}", session_id=session_id)
            return _answer(answers.SIGN_IN_AGAIN, 401, "unauthorized")

        try:
            claims = self._verifier.verify(user_token)
        except TokenRejected as error:
            self._audit("deny", error.reason, sub=getattr(error, "sub", None), session_id=session_id)
            return _answer(answers.SIGN_IN_AGAIN, 401, "unauthorized")

        prompt = _prompt(payload)
        if prompt is None:
            self._audit("deny", "prompt_invalid", principal=claims.client_id, sub=claims.sub, session_id=session_id)
            return _answer(answers.INVALID_PROMPT, 400, "invalid_prompt")

        history = self._load_history(claims.sub, session_id)
        messages = [*history, {"role": "user", "content": [{"text": prompt}]}]
        tools = self._tools.allowed_for(claims.scopes)

        try:
            answer, reason = self._run_model(messages, tools, user_token=user_token, session_id=session_id)
        except ModelUnavailable as error:
            self._audit("deny", error.reason, principal=claims.client_id, sub=claims.sub, session_id=session_id)
            return _answer(answers.MODEL_UNAVAILABLE, 503, "model_unavailable")
        except _TurnEnded as ended:
            self._audit(
                "deny", ended.reason, principal=claims.client_id, sub=claims.sub, session_id=session_id, tool=ended.tool
            )
            self._store_exchange(claims.sub, session_id, prompt, ended.answer)
            return _answer(ended.answer)

        self._store_exchange(claims.sub, session_id, prompt, answer)
        self._audit("allow", reason, principal=claims.client_id, sub=claims.sub, session_id=session_id, jti=claims.jti)
        return _answer(answer)

    def _run_model(
        self, messages: list[dict[str, Any]], tools: Sequence[MeshTool], *, user_token: str, session_id: str
    ) -> tuple[str, str]:
        """Alternate model turns and tool calls until the model answers; return the answer and an audit reason."""
        offered = {tool.name: tool for tool in tools}

        for tool_round in range(self._max_tool_rounds + 1):
            turn = self._model.converse(system=self._system_prompt, messages=messages, tools=tools)
            messages.append(dict(turn.message))

            if not _requests_tools(turn):
                return (turn.text, "answer_returned") if turn.text else (answers.NO_ANSWER, "model_empty_answer")
            if tool_round == self._max_tool_rounds:
                break

            results = [
                self._run_tool(use, offered, user_token=user_token, session_id=session_id) for use in turn.tool_uses
            ]
            messages.append({"role": "user", "content": results})

        return answers.REQUEST_TOO_COMPLEX, "tool_round_limit"

    def _run_tool(
        self, use: ToolUse, offered: Mapping[str, MeshTool], *, user_token: str, session_id: str
    ) -> dict[str, Any]:
        """Run one requested tool and return its Converse toolResult block.

        A tool that is not offered, arguments that do not fit the schema, and
        an argument error reported by the tool go back to the model as an error
        result, so it can correct the call. A refused or failed peer call ends
        the turn with a fixed answer instead, because the model must not
        improvise account data.
        """
        tool = offered.get(use.name)
        if tool is None:
            return _tool_error(use, f"The tool {use.name!r} is not available.")
        try:
            arguments = validate_arguments(tool, use.arguments if use.arguments is not None else {})
        except InvalidToolArguments as error:
            return _tool_error(use, f"Invalid arguments: {error}")

        try:
            result = self._peers.call_tool(
                tool.peer, tool.name, arguments, user_token=user_token, session_id=session_id
            )
        except PeerToolError as error:
            return _tool_error(use, f"The tool rejected the call ({error.code}): {error.message}")
        except PeerCallRefused as error:
            raise _TurnEnded(answers.ACCOUNT_UNAVAILABLE, error.reason, tool.name) from None
        except PeerCallFailed as error:
            raise _TurnEnded(answers.SERVICE_UNAVAILABLE, error.reason, tool.name) from None

        document = result if isinstance(result, Mapping) else {"result": result}
        return {
            "toolResult": {"toolUseId": use.tool_use_id, "content": [{"json": dict(document)}], "status": "success"}
        }

    def _load_history(self, sub: str, session_id: str) -> list[dict[str, Any]]:
        try:
            return self._memory.load(actor_id=sub, session_id=session_id)
        except MemoryUnavailable as error:
            # The conversation goes on without history rather than failing the user's request.
            self._logger.warning(
                "Conversation history unavailable", extra={"reason": error.reason, "sub": sub, "session_id": session_id}
            )
            return []

    def _store_exchange(self, sub: str, session_id: str, prompt: str, answer: str) -> None:
        try:
            self._memory.append_exchange(actor_id=sub, session_id=session_id, user_text=prompt, answer_text=answer)
        except MemoryUnavailable as error:
            self._logger.warning(
                "Conversation exchange not stored", extra={"reason": error.reason, "sub": sub, "session_id": session_id}
            )

    def _audit(self, decision: str, reason: str, **ids: Any) -> None:
        audit(HOP, decision, reason, logger=self._logger, **ids)


def _requests_tools(turn: ModelTurn) -> bool:
    return bool(turn.tool_uses) and turn.stop_reason == "tool_use"


def _tool_error(use: ToolUse, message: str) -> dict[str, Any]:
    return {"toolResult": {"toolUseId": use.tool_use_id, "content": [{"text": message}], "status": "error"}}


def _session_id(headers: Sequence[tuple[str, str]]) -> str | None:
    """Return the runtime session id if the header occurs once and contains a valid id, else None."""
    try:
        value = validate_session_id(find_single_header(headers, RUNTIME_SESSION_ID_HEADER))
    except (MissingHeader, DuplicateHeader, InvalidHeader):
        return None
    return value if _MEMORY_SESSION_ID_PATTERN.fullmatch(value) else None


def _prompt(payload: Any) -> str | None:
    """Return the user's question from ``{"prompt": "..."}`` if it is non-empty text within the limit."""
    if not isinstance(payload, Mapping):
        return None
    prompt = payload.get("prompt")
    if not isinstance(prompt, str):
        return None
    prompt = prompt.strip()
    if not prompt or len(prompt) > MAX_PROMPT_CHARACTERS:
        return None
    return prompt
