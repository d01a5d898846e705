# SPDX-License-Identifier: Apache-2.0
"""Binding of runtime session ids to the user who first used them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

# Upper bound on the bindings one process keeps. AgentCore Runtime gives every
# session its own microVM, so one process normally receives a single session
# id. The bound only caps the memory that a misbehaving caller can consume.
DEFAULT_MAX_BINDINGS: Final = 10_000


class SessionBindings:
    """Remember which user ``sub`` owns each runtime session id.

    The first verified call with a session id binds the id to that call's user.
    A later call with the same id and another user is rejected, so a caller
    cannot continue one user's session on behalf of another.

    NOTE: the bindings live in this process's memory only, for the life of the
    runtime session's microVM. AgentCore routes every call of one session id to
    the same microVM, and ends it after the session's idle timeout or maximum
    lifetime, which also ends the binding. When more than ``max_bindings`` ids
    are seen, the least recently used binding is dropped, and that id could then
    be bound again by another user.
    """

    def __init__(self, max_bindings: int = DEFAULT_MAX_BINDINGS) -> None:
        if max_bindings < 1:
            raise ValueError(f"max_bindings must be at least 1; received {max_bindings}")
        self._max_bindings = max_bindings
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def bind(self, session_id: str, sub: str) -> bool:
        """Bind ``session_id`` to ``sub`` if it is new, and return whether ``sub`` owns it."""
        with self._lock:
            owner = self._owners.get(session_id)
            if owner is not None:
                self._owners.move_to_end(session_id)
                return owner == sub

            self._owners[session_id] = sub
            if len(self._owners) > self._max_bindings:
                self._owners.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._owners)
