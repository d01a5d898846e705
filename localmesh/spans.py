"""Durations of the steps of a request, recorded by the stand-ins for the latency benchmark."""

from __future__ import annotations

import threading
from collections import defaultdict


class SpanRecorder:
    """Collect named durations (seconds) while enabled; disabled, `record` does nothing."""

    def __init__(self) -> None:
        self._spans: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._enabled = False

    def enable(self) -> None:
        """Start recording, discarding earlier spans."""
        with self._lock:
            self._spans.clear()
            self._enabled = True

    def disable(self) -> None:
        """Stop recording; the spans stay available."""
        with self._lock:
            self._enabled = False

    def record(self, name: str, seconds: float) -> None:
        """Add one duration under ``name``."""
        with self._lock:
            if self._enabled:
                self._spans[name].append(seconds)

    def take(self) -> dict[str, list[float]]:
        """Return the spans recorded since the last `take` and clear them."""
        with self._lock:
            spans = {name: list(values) for name, values in self._spans.items()}
            self._spans.clear()
            return spans
