"""The consumer kit: the Secret's keys (environment, mounted directory, or any reader) and the JWKS (mounted
file or URL), reloaded on change without a restart; sign() and verify() by the contract; the metrics
contract's series. A bad update is logged and not applied: the kit keeps its last good keys."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import urllib.request
from typing import Any, Callable, Mapping, Optional

from prometheus_client import CollectorRegistry

from .keys import VAR_NAMES, KeyRing, parse_key_ring
from .metrics import KitMetrics
from .sessions import SessionTracker
from .tokens import Signed, Verification, self_test, sign_with, verify_token

APPLIED, UNCHANGED, KEPT = "applied", "unchanged", "kept"

_log = logging.getLogger("jwt_consumer_kit")


def read_secret_dir(directory: str) -> dict:
    """One file per Secret key, as kubelet mounts it (read through the mount directory, whose ..data
    symlink kubelet swaps, so a read sees one version). Contents are used as they are."""
    out = {}
    for name in VAR_NAMES:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", newline="") as f:
                out[name] = f.read()
        except FileNotFoundError:
            continue
    return out


class ConsumerKit:
    """Holds the keys in use, reloads them, signs, verifies and counts. Build it with ConsumerKit.open()."""

    def __init__(
        self,
        *,
        env: Optional[Mapping[str, str]] = None,
        secret_dir: Optional[str] = None,
        read: Optional[Callable[[], Mapping[str, str]]] = None,
        jwks_file: Optional[str] = None,
        jwks_url: Optional[str] = None,
        algorithm: Optional[str] = None,
        reload_interval: Optional[float] = 1.0,
        jwks_refresh: float = 30.0,
        now: Callable[[], float] = time.time,
        registry: Optional[CollectorRegistry] = None,
        session_window: float = 300,
        logger: logging.Logger = _log,
    ) -> None:
        self._env, self._secret_dir, self._read = env, secret_dir, read
        self._jwks_file, self._jwks_url, self._algorithm = jwks_file, jwks_url, algorithm
        self._jwks_refresh, self.now, self._log = jwks_refresh, now, logger
        self._lock = threading.Lock()
        self._problem: Optional[str] = None
        self._jwks = self._read_jwks()
        self._fetched = time.monotonic()
        vars_ = self._read_vars()
        self._ring = self._load(vars_, self._jwks, strict=True)
        self._digest = _digest(vars_, self._jwks)
        self.sessions = SessionTracker(session_window)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = KitMetrics(self.registry, self.sessions, now)
        self._announce("keys loaded")
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        polled = any(x is not None for x in (secret_dir, read, jwks_file, jwks_url))
        if reload_interval and polled:
            self._thread = threading.Thread(target=self._poll, args=(reload_interval,), daemon=True)
            self._thread.start()

    @classmethod
    def open(cls, **options: Any) -> "ConsumerKit":
        """Reads and checks the keys (raising ConfigError... when none is usable: do not start then), and starts
        reloading them. Options: env, secret_dir, read, jwks_file, jwks_url, algorithm, reload_interval (None or 0:
        no timer), jwks_refresh, now, registry, session_window, logger."""
        return cls(**options)

    @property
    def keys(self) -> KeyRing:
        return self._ring

    def sign(self, claims: Mapping[str, Any], ttl: Optional[int] = None) -> Signed:
        """Signs with the key the rotation date selects now; iat now, exp now + JWT_EXPIRATION (or ttl)."""
        ring, now = self._ring, self.now()
        signed = sign_with(ring.signing_key_at(now), claims, now, ring.access_ttl if ttl is None else ttl)
        self.metrics.record_issued(signed.key_version)
        return signed

    def verify(self, token: str, require: Optional[Mapping[str, str]] = None) -> Verification:
        """Verifies by the contract, counts it in the metrics, and counts its subject as an active session."""
        started = time.perf_counter()
        now = self.now()
        verdict = verify_token(self._ring, token, now, require)
        self.metrics.record_validation(verdict.key_version, verdict.result, time.perf_counter() - started)
        sub, exp = verdict.claims.get("sub"), verdict.claims.get("exp")
        if verdict.valid and isinstance(sub, str) and isinstance(exp, (int, float)):
            self.sessions.touch(sub, exp, now)
        return verdict

    def touch_session(self, subject: str, expires_at: float) -> None:
        """Counts a subject as active until expires_at (seconds), e.g. at a login."""
        self.sessions.touch(subject, expires_at, self.now())

    def reload(self) -> str:
        """Re-reads the Secret and the JWKS now (the URL too) and switches to them if they are complete and
        valid; otherwise keeps the last good keys and says "kept"."""
        return self._reload(force=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _reload(self, force: bool) -> str:
        with self._lock:
            try:
                jwks = self._jwks
                if self._jwks_url is None or force or time.monotonic() - self._fetched >= self._jwks_refresh:
                    jwks, self._fetched = self._read_jwks(), time.monotonic()
                vars_ = self._read_vars()
                digest = _digest(vars_, jwks)
                if digest == self._digest:
                    return UNCHANGED
                self._ring = self._load(vars_, jwks, strict=False)
                self._jwks, self._digest, self._problem = jwks, digest, None
            except Exception as error:  # noqa: BLE001 - any bad update keeps the last good keys
                problem = str(error)
                # Once per distinct problem: a file being rewritten can fail for several polls in a row.
                if problem != self._problem:
                    self._log.error("keys not reloaded; keeping the previous ones", extra={"problem": problem})
                self._problem = problem
                return KEPT
        self._announce("keys reloaded")
        return APPLIED

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._reload(force=False)

    def _load(self, vars_: Mapping[str, str], jwks: Optional[str], strict: bool) -> KeyRing:
        """Parses and self-tests, so the kit only ever switches to keys that sign and verify."""
        ring = parse_key_ring(vars_, self._algorithm, jwks)
        self_test(ring, self.now(), strict)
        return ring

    def _read_vars(self) -> dict:
        if self._read is not None:
            source = self._read()
        elif self._secret_dir is not None:
            source = read_secret_dir(self._secret_dir)
        else:
            source = self._env if self._env is not None else os.environ
        return {name: source[name] for name in VAR_NAMES if name in source}

    def _read_jwks(self) -> Optional[str]:
        if self._jwks_file is not None:
            with open(self._jwks_file, encoding="utf-8") as f:
                return f.read()
        if self._jwks_url is not None:
            with urllib.request.urlopen(self._jwks_url, timeout=10) as response:  # noqa: S310 - the user's URL
                return response.read(1 << 20).decode("utf-8")
        return None

    def _announce(self, msg: str) -> None:
        ring = self._ring
        self._log.info(msg, extra={"keys": ring.describe()})
        for warning in ring.warnings:
            self._log.warning(warning)


def _digest(vars_: Mapping[str, str], jwks: Optional[str]) -> str:
    """Compares versions without keeping a second copy of the keys around."""
    return hashlib.sha256(json.dumps([vars_, jwks], sort_keys=True).encode("utf-8")).hexdigest()
