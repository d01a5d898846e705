"""Capture of the audit records every hop emits, and quieting of the components' own log output.

Every hop calls `mesh_identity.audit`, which logs the record under the key
``audit`` through a Powertools `Logger`. `AuditLog` is a logging handler that
collects those records from the components' loggers, in the order they were
written, so a scenario can show the records of its own request.

While the mesh runs, `LogRouting` mutes the components' console handlers (the
JSON lines would bury the demo's output) and, if asked, copies every line to
a file in the component's own JSON format.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """One audit record and the logger (component) that wrote it."""

    sequence: int
    component: str
    record: Mapping[str, Any]

    @property
    def hop(self) -> str:
        """The hop that made the decision."""
        return str(self.record.get("hop"))

    @property
    def decision(self) -> str:
        """``allow`` or ``deny``."""
        return str(self.record.get("decision"))

    @property
    def reason(self) -> str:
        """The snake_case reason code."""
        return str(self.record.get("reason"))


class AuditLog(logging.Handler):
    """A logging handler that keeps every audit record logged through the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._entries: list[AuditEntry] = []
        self._entries_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        audit = getattr(record, "audit", None)
        if not isinstance(audit, Mapping):
            return
        with self._entries_lock:
            self._entries.append(AuditEntry(sequence=len(self._entries), component=record.name, record=dict(audit)))

    def mark(self) -> int:
        """Return a position; `since` returns the records written after it."""
        with self._entries_lock:
            return len(self._entries)

    def since(self, mark: int) -> list[AuditEntry]:
        """Return the records written after ``mark``, oldest first."""
        with self._entries_lock:
            return list(self._entries[mark:])

    def entries(self) -> list[AuditEntry]:
        """Return every record captured so far."""
        return self.since(0)


class _Mute(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


class LogRouting:
    """Attach the audit log (and an optional JSON-lines file) to component loggers and mute their console output.

    `release` undoes everything, so loggers shared with other code in the
    process are left as they were found.
    """

    def __init__(self, audit_log: AuditLog, *, log_file: Path | None = None) -> None:
        self._audit_log = audit_log
        self._log_file = log_file
        self._file_handler: logging.FileHandler | None = None
        self._attached: list[tuple[logging.Logger, logging.Handler]] = []
        self._muted: list[tuple[logging.Handler, logging.Filter]] = []
        self._levels: list[tuple[logging.Logger, int]] = []
        self._silenced: list[tuple[logging.Logger, logging.Filter]] = []

    def route(self, names: Iterable[str]) -> None:
        """Capture audit records of the named loggers and mute their existing handlers."""
        for name in names:
            target = logging.getLogger(name)
            if any(existing is target for existing, _ in self._attached):
                continue
            formatter = next((handler.formatter for handler in target.handlers if handler.formatter), None)
            for handler in target.handlers:
                mute = _Mute()
                handler.addFilter(mute)
                self._muted.append((handler, mute))
            self._attach(target, self._audit_log)
            if self._log_file is not None:
                self._attach(target, self._file_handler_with(formatter))

    def silence(self, names: Iterable[str]) -> None:
        """Drop every record of chatty third-party loggers (SDK, web servers) until `release`.

        The filter sits on the logger itself, so it also covers handlers and
        levels that the library sets up later.
        """
        for name in names:
            target = logging.getLogger(name)
            mute = _Mute()
            target.addFilter(mute)
            self._silenced.append((target, mute))

    def release(self) -> None:
        """Detach every handler, remove every filter and restore every level."""
        for target, handler in reversed(self._attached):
            target.removeHandler(handler)
        for handler, mute in reversed(self._muted):
            handler.removeFilter(mute)
        for target, level in reversed(self._levels):
            target.setLevel(level)
        for target, mute in reversed(self._silenced):
            target.removeFilter(mute)
        self._attached.clear()
        self._silenced.clear()
        self._muted.clear()
        self._levels.clear()
        if self._file_handler is not None:
            self._file_handler.close()
            self._file_handler = None

    def _attach(self, target: logging.Logger, handler: logging.Handler) -> None:
        target.addHandler(handler)
        self._attached.append((target, handler))
        # Powertools sets INFO on its loggers; a logger left at NOTSET under a
        # WARNING root would drop the INFO audit records before any handler.
        if target.level == logging.NOTSET:
            self._levels.append((target, target.level))
            target.setLevel(logging.INFO)

    def _file_handler_with(self, formatter: logging.Formatter | None) -> logging.Handler:
        # One file for every component; each line keeps its component's formatter.
        return _FormattedFileHandler(self._shared_file(), formatter)

    def _shared_file(self) -> logging.FileHandler:
        if self._file_handler is None:
            assert self._log_file is not None
            self._file_handler = logging.FileHandler(self._log_file, mode="w", encoding="utf-8")
        return self._file_handler


class _FormattedFileHandler(logging.Handler):
    """Write records to a shared file handler with a per-logger formatter."""

    def __init__(self, file_handler: logging.FileHandler, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self._file_handler = file_handler
        self.setFormatter(formatter or logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)
            return
        self._file_handler.acquire()
        try:
            self._file_handler.stream.write(line + "\n")
            self._file_handler.stream.flush()
        finally:
            self._file_handler.release()
