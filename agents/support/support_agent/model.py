# SPDX-License-Identifier: Apache-2.0
"""The model that decides what the Support agent does: Bedrock Converse, or a scripted stand-in.

Messages use the Converse message format (``{"role": ..., "content": [...]}``)
throughout, so the Bedrock implementation passes them on unchanged.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .reasons import error_reason
from .tools import MeshTool

# Converse's inference settings for a support conversation: short answers and
# the most deterministic sampling, because the answers report account data.
DEFAULT_MAX_TOKENS: Final = 1024
DEFAULT_TEMPERATURE: Final = 0.0


class ModelUnavailable(Exception):
    """The model call failed; ``reason`` is a short code for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ToolUse:
    """One tool call that the model requested."""

    tool_use_id: str
    name: str
    arguments: Any


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """One model reply: the assistant message to append, its text, and the tool calls it requests."""

    message: Mapping[str, Any]
    stop_reason: str
    text: str = ""
    tool_uses: tuple[ToolUse, ...] = ()


class Model(Protocol):
    """A model that produces the next assistant turn of a conversation."""

    def converse(self, *, system: str, messages: Sequence[Mapping[str, Any]], tools: Sequence[MeshTool]) -> ModelTurn:
        """Return the next turn; raise ModelUnavailable if the model call fails."""
        ...


def turn_from_message(message: Mapping[str, Any], stop_reason: str) -> ModelTurn:
    """Build a ModelTurn from a Converse assistant message."""
    texts: list[str] = []
    tool_uses: list[ToolUse] = []
    for block in message.get("content", []):
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            tool_uses.append(ToolUse(tool_use_id=use["toolUseId"], name=use["name"], arguments=use.get("input")))
    return ModelTurn(
        message=message, stop_reason=stop_reason, text="\n".join(texts).strip(), tool_uses=tuple(tool_uses)
    )


class BedrockConverseModel:
    """The Converse API of Amazon Bedrock with tool use, on a ``bedrock-runtime`` client."""

    def __init__(
        self,
        client: Any,
        model_id: str,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
    ) -> None:
        self._client = client
        self._model_id = model_id
        self._inference = {"maxTokens": max_tokens, "temperature": temperature}

    def converse(self, *, system: str, messages: Sequence[Mapping[str, Any]], tools: Sequence[MeshTool]) -> ModelTurn:
        """Call Converse once and return the assistant turn."""
        request: dict[str, Any] = {
            "modelId": self._model_id,
            "system": [{"text": system}],
            "messages": list(messages),
            "inferenceConfig": self._inference,
        }
        if tools:
            request["toolConfig"] = {"tools": [tool.tool_spec() for tool in tools]}

        try:
            response = self._client.converse(**request)
        except (ClientError, BotoCoreError) as error:
            raise ModelUnavailable(error_reason("converse", error)) from error

        message = response.get("output", {}).get("message")
        if not isinstance(message, Mapping):
            raise ModelUnavailable("converse_no_message")
        return turn_from_message(message, response.get("stopReason", ""))


# --------------------------------------------------------------------------
# Scripted stand-in for tests and the local mesh. It calls no model.
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelCall:
    """A copy of what one ``converse`` call received, for assertions in tests."""

    system: str
    messages: list[dict[str, Any]]
    tool_names: tuple[str, ...]


ScriptStep = Callable[[Sequence[Mapping[str, Any]]], ModelTurn]


@dataclass
class ScriptedModel:
    """NOT A MODEL: a scripted stand-in for Bedrock, used by tests and the local mesh.

    ``script`` is either a sequence of turns, returned in order, or a function
    that computes the next turn from the messages. Every call is recorded in
    ``calls`` so tests can inspect the exact prompt and messages.
    """

    script: Sequence[ModelTurn] | ScriptStep
    calls: list[ModelCall] = field(default_factory=list)
    _turns: Iterator[ModelTurn] | None = field(default=None, init=False, repr=False)

    def converse(self, *, system: str, messages: Sequence[Mapping[str, Any]], tools: Sequence[MeshTool]) -> ModelTurn:
        """Record the call and return the next scripted turn; raise ModelUnavailable when the script ends."""
        self.calls.append(
            ModelCall(system=system, messages=copy.deepcopy(list(messages)), tool_names=tuple(t.name for t in tools))
        )
        if callable(self.script):
            return self.script(messages)

        if self._turns is None:
            self._turns = iter(self.script)
        turn = next(self._turns, None)
        if turn is None:
            raise ModelUnavailable("script_exhausted")
        return turn


_tool_use_ids = itertools.count(1)


def text_turn(text: str) -> ModelTurn:
    """Build a scripted final answer."""
    message = {"role": "assistant", "content": [{"text": text}]}
    return turn_from_message(message, "end_turn")


def tool_turn(name: str, arguments: Mapping[str, Any] | None = None, *, tool_use_id: str | None = None) -> ModelTurn:
    """Build a scripted request for one tool call."""
    use_id = tool_use_id or f"tooluse-scripted-{next(_tool_use_ids)}"
    message = {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": use_id, "name": name, "input": dict(arguments or {})}}],
    }
    return turn_from_message(message, "tool_use")


def keyword_script(messages: Sequence[Mapping[str, Any]]) -> ModelTurn:
    """Script for the local mesh: pick a tool by keyword, then report the tool's result verbatim."""
    last = messages[-1] if messages else {"content": []}
    results = [block["toolResult"] for block in last.get("content", []) if "toolResult" in block]
    if results:
        payloads = [item.get("json", item.get("text")) for result in results for item in result.get("content", [])]
        return text_turn("Here is what I found: " + json.dumps(payloads, sort_keys=True, default=str))

    prompt = " ".join(block.get("text", "") for block in last.get("content", [])).lower()
    if "balance" in prompt:
        return tool_turn("get_balance")
    if "transaction" in prompt:
        return tool_turn("list_transactions", {"limit": 5})
    return text_turn("I can tell you your balance or your recent transactions.")
