"""Active sessions as jwt_active_sessions reports them: distinct token subjects seen in a successful
validation (or a login) within the window, whose token has not expired."""

from __future__ import annotations

import threading


class SessionTracker:
    def __init__(self, window_seconds: float = 300, max_entries: int = 100_000) -> None:
        self._window = window_seconds
        self._max = max_entries
        self._seen: dict = {}  # subject -> (last seen, expires at); insertion order = last seen
        self._lock = threading.Lock()

    def touch(self, subject: str, expires_at: float, now: float) -> None:
        with self._lock:
            self._seen.pop(subject, None)
            self._seen[subject] = (now, expires_at)
            while len(self._seen) > self._max:  # bounded memory: forget the longest-unseen subjects
                del self._seen[next(iter(self._seen))]

    def count(self, now: float) -> int:
        with self._lock:
            stale = [s for s, (seen, exp) in self._seen.items() if seen < now - self._window or exp <= now]
            for subject in stale:
                del self._seen[subject]
            return len(self._seen)
