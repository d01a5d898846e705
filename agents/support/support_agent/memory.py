# SPDX-License-Identifier: Apache-2.0
"""Conversation history in AgentCore Memory (short-term events), keyed by user and runtime session."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from .reasons import error_reason

# Number of earlier exchanges (one user message and one answer each) given to
# the model. Older ones stay in Memory but are not sent.
DEFAULT_MAX_EXCHANGES: Final = 10
# ListEvents returns at most 100 events per page; reading stops after this many pages.
_PAGE_SIZE: Final = 100
_MAX_PAGES: Final = 5
# CreateEvent accepts at most 100,000 characters of text per conversational payload.
MAX_TEXT_CHARACTERS: Final = 100_000

_ROLES: Final = {"USER": "user", "ASSISTANT": "assistant"}


class MemoryUnavailable(Exception):
    """A Memory call failed; ``reason`` is a short code for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConversationMemory:
    """Read and append the exchanges of one user's conversation.

    The actor id is the user's verified ``sub`` and the session id is the
    runtime session id, so a user sees only the events of their own sessions.
    Only the user's message and the agent's final answer are stored. Tool
    arguments, tool results and request headers never reach Memory.
    """

    def __init__(
        self,
        client: Any,
        memory_id: str,
        *,
        max_exchanges: int = DEFAULT_MAX_EXCHANGES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._memory_id = memory_id
        self._max_messages = 2 * max_exchanges
        self._clock = clock

    def load(self, *, actor_id: str, session_id: str) -> list[dict[str, Any]]:
        """Return the latest exchanges as Converse messages, oldest first, starting with a user message."""
        events: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "memoryId": self._memory_id,
            "actorId": actor_id,
            "sessionId": session_id,
            "includePayloads": True,
            "maxResults": _PAGE_SIZE,
        }
        try:
            for _ in range(_MAX_PAGES):
                page = self._client.list_events(**request)
                events.extend(page.get("events", []))
                next_token = page.get("nextToken")
                if not next_token:
                    break
                request["nextToken"] = next_token
        except (ClientError, BotoCoreError) as error:
            raise MemoryUnavailable(error_reason("list_events", error)) from error

        events.sort(
            key=lambda event: (
                event.get("eventTimestamp") or datetime.min.replace(tzinfo=UTC),
                event.get("eventId", ""),
            )
        )
        return _as_messages(events)[-self._max_messages :]

    def append_exchange(self, *, actor_id: str, session_id: str, user_text: str, answer_text: str) -> None:
        """Store one exchange as a single event, so history never contains a question without its answer."""
        payload = [
            {"conversational": {"role": "USER", "content": {"text": user_text[:MAX_TEXT_CHARACTERS]}}},
            {"conversational": {"role": "ASSISTANT", "content": {"text": answer_text[:MAX_TEXT_CHARACTERS]}}},
        ]
        try:
            self._client.create_event(
                memoryId=self._memory_id,
                actorId=actor_id,
                sessionId=session_id,
                eventTimestamp=self._clock(),
                payload=payload,
                # The same token on botocore's retries keeps a retried write from storing the exchange twice.
                clientToken=str(uuid.uuid4()),
            )
        except (ClientError, BotoCoreError) as error:
            raise MemoryUnavailable(error_reason("create_event", error)) from error


def _as_messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn conversational payloads into alternating Converse messages that start with a user message.

    Converse rejects two consecutive messages of one role, so consecutive texts
    of one role are merged. A trailing user message is dropped, because the
    caller appends the new user message.
    """
    messages: list[dict[str, Any]] = []
    for event in events:
        for item in event.get("payload", []):
            conversational = item.get("conversational")
            if not conversational:
                continue
            role = _ROLES.get(conversational.get("role", ""))
            text = conversational.get("content", {}).get("text", "")
            if role is None or not text:
                continue
            if messages and messages[-1]["role"] == role:
                messages[-1]["content"].append({"text": text})
            elif messages or role == "user":
                messages.append({"role": role, "content": [{"text": text}]})

    if messages and messages[-1]["role"] == "user":
        messages.pop()
    return messages
