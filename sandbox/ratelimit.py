"""Sliding-window rate limiters for the tool stand-ins; thread-safe."""

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request against one limit."""

    allowed: bool
    limit: int
    remaining: int
    window_seconds: float


class SlidingWindowLimiter:
    """
    Allow at most `limit` requests per key in any rolling `window_seconds`.

    Rejected requests are not counted, so a client that backs off for one
    window always gets through again.
    """

    def __init__(self, limit, window_seconds, clock=time.monotonic):
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._hits = {}
        self._lock = threading.Lock()

    def hit(self, key):
        """Count one request for `key` if the window has room, and return the decision."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return RateDecision(False, self.limit, 0, self.window_seconds)
            hits.append(now)
            return RateDecision(True, self.limit, self.limit - len(hits), self.window_seconds)

    def reset(self):
        with self._lock:
            self._hits.clear()
