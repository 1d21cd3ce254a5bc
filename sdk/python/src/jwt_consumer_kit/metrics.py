"""The series of docs/metrics-contract.md, through prometheus_client, on a registry of the caller's choosing
(a new one by default, not the global REGISTRY, so an application keeps its own metrics apart)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .sessions import SessionTracker

#: Must include the gate's latency threshold (0.05 s) as a bound, so the p99 is not interpolated across it.
VALIDATION_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class KitMetrics:
    def __init__(self, registry: CollectorRegistry, sessions: SessionTracker, now: Callable[[], float]) -> None:
        self.registry = registry
        self._validations = Counter(
            "jwt_validations_total",
            "JWT validations by the key version that verified the token (none: no key did) and by result.",
            ["key_version", "result"], registry=registry,
        )
        self._duration = Histogram(
            "jwt_validation_duration_seconds", "Time to validate one JWT, in seconds.",
            buckets=VALIDATION_DURATION_BUCKETS, registry=registry,
        )
        self._issued = Counter(
            "jwt_tokens_issued_total", "JWTs signed, by the key version that signed them.", ["key_version"],
            registry=registry,
        )
        Gauge(
            "jwt_active_sessions", "Distinct token subjects seen valid in the session window, with an unexpired token.",
            registry=registry,
        ).set_function(lambda: sessions.count(now()))
        # Every series from the start: a ratio over a series that does not exist yet is empty, and rate()
        # needs a zero before the first increment to count it.
        for version in ("current", "new"):
            for result in ("success", "rejected"):
                self._validations.labels(key_version=version, result=result)
            self._issued.labels(key_version=version)
        for result in ("rejected", "error"):
            self._validations.labels(key_version="none", result=result)

    def record_validation(self, key_version: str, result: str, seconds: float) -> None:
        self._validations.labels(key_version=key_version, result=result).inc()
        self._duration.observe(seconds)

    def record_issued(self, key_version: str) -> None:
        self._issued.labels(key_version=key_version).inc()
