"""The reference consumer's HTTP API (examples/consumer) on the Python consumer kit, so the same clients and
session load drive a Python service:

    POST /login    {"sub": "..."}            -> access + refresh token, signed with the key the date selects
    POST /refresh  {"refresh_token": "..."}  -> a new pair (how clients move to the new key)
    GET  /me       Authorization: Bearer ... -> verified with any known key
    GET  /metrics, GET /healthz

Keys: the environment (envFrom the operator's Secret), or SECRET_DIR (a mounted Secret); JWKS_FILE or JWKS_URL
for asymmetric keys. PORT (8080), HOST, RELOAD_INTERVAL_MS (1000), SESSION_WINDOW_SECONDS (300),
SHUTDOWN_DELAY_SECONDS (3). Logs are JSON lines on stdout, with fingerprints only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jwt_consumer_kit import ConsumerKit, sign_with


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                "level": record.levelname.lower(), "msg": record.getMessage()}
        line.update(getattr(record, "keys", {}))
        if hasattr(record, "problem"):
            line["problem"] = record.problem
        for name in ("port", "signal", "error"):
            if hasattr(record, name):
                line[name] = getattr(record, name)
        return json.dumps(line)


def _logger() -> logging.Logger:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    log = logging.getLogger("consumer")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


LOG = _logger()
BEARER = re.compile(r"^Bearer\s+(\S+)$", re.IGNORECASE)


class Service:
    def __init__(self, kit: ConsumerKit) -> None:
        self.kit = kit
        self.draining = False

    def pair(self, sub: str) -> tuple:
        """Both tokens signed with one key, chosen once: a login's pair is on one side of the date."""
        ring, now = self.kit.keys, time.time()
        key = ring.signing_key_at(now)
        access = sign_with(key, {"sub": sub, "jti": uuid.uuid4().hex, "token_use": "access"}, now, ring.access_ttl)
        refresh = sign_with(key, {"sub": sub, "jti": uuid.uuid4().hex, "token_use": "refresh"}, now, ring.refresh_ttl)
        self.kit.metrics.record_issued(key.version)
        self.kit.metrics.record_issued(key.version)
        self.kit.touch_session(sub, access.expires_at)
        return 200, {"access_token": access.token, "refresh_token": refresh.token, "token_type": "Bearer",
                     "expires_in": ring.access_ttl, "kid": key.kid, "key_version": key.version}

    @staticmethod
    def failure(verdict) -> tuple:
        if verdict.result == "error":
            return 500, {"error": "validation error"}
        return 401, {"error": "invalid token", "reason": verdict.reason}


def handler_for(service: Service) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path == "/metrics":
                return self.send_text(200, generate_latest(service.kit.registry), CONTENT_TYPE_LATEST)
            if self.path == "/healthz":
                if service.draining:
                    return self.send_json(503, {"status": "draining"})
                return self.send_json(200, {"status": "ok", "mode": service.kit.keys.mode})
            if self.path == "/me":
                match = BEARER.match(self.headers.get("authorization", ""))
                if match is None:
                    # No token is not a validation: anonymous calls must not move the auth success rate.
                    return self.send_json(401, {"error": "missing bearer token"})
                verdict = service.kit.verify(match.group(1), require={"token_use": "access"})
                if not verdict.valid:
                    return self.send_json(*service.failure(verdict))
                return self.send_json(200, {"sub": verdict.claims.get("sub"), "kid": verdict.kid,
                                            "key_version": verdict.key_version})
            return self.send_json(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.read_json()
            if self.path == "/login":
                sub = body.get("sub") if isinstance(body.get("sub"), str) and body.get("sub") else f"user-{uuid.uuid4()}"
                return self.send_json(*service.pair(sub))
            if self.path == "/refresh":
                token = body.get("refresh_token")
                if not isinstance(token, str) or not token:
                    return self.send_json(400, {"error": "missing refresh_token"})
                verdict = service.kit.verify(token, require={"token_use": "refresh"})
                if not verdict.valid:
                    return self.send_json(*service.failure(verdict))
                return self.send_json(*service.pair(verdict.claims["sub"]))
            return self.send_json(404, {"error": "not found"})

        def read_json(self) -> dict:
            length = min(int(self.headers.get("content-length") or 0), 16 * 1024)
            try:
                parsed = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return {}
            return parsed if isinstance(parsed, dict) else {}

        def send_json(self, status: int, body: dict) -> None:
            self.send_text(status, json.dumps(body).encode("utf-8"), "application/json")

        def send_text(self, status: int, raw: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(raw)))
            if service.draining:
                # While draining, every answer closes its connection, so clients reconnect to a live replica.
                self.send_header("connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args) -> None:  # access logs off: the metrics count requests
            pass

    return Handler


def main() -> int:
    env = os.environ
    try:
        kit = ConsumerKit.open(
            secret_dir=env.get("SECRET_DIR") or None, jwks_file=env.get("JWKS_FILE") or None,
            jwks_url=env.get("JWKS_URL") or None, reload_interval=int(env.get("RELOAD_INTERVAL_MS", "1000")) / 1000,
            session_window=int(env.get("SESSION_WINDOW_SECONDS", "300")), logger=LOG,
        )
        if kit.keys.current is None:
            raise RuntimeError("no JWT_SECRET or JWT_PRIVATE_KEY is set")
    except Exception as error:  # noqa: BLE001 - any failure to load keys stops the start
        LOG.error("cannot start", extra={"error": str(error)})
        return 1
    service = Service(kit)
    server = ThreadingHTTPServer((env.get("HOST", "0.0.0.0"), int(env.get("PORT", "8080"))), handler_for(service))
    server.daemon_threads = True
    LOG.info("listening", extra={"port": server.server_address[1]})

    def shutdown(signum, _frame) -> None:
        # Keep serving (failing /healthz, closing connections) while the endpoint leaves the Services, then stop.
        delay = float(env.get("SHUTDOWN_DELAY_SECONDS", "3"))
        LOG.info("shutting down", extra={"signal": signal.Signals(signum).name})
        service.draining = True
        threading.Timer(delay, server.shutdown).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    server.serve_forever()
    kit.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
