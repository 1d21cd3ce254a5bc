"""The shared conformance suite (../../conformance/cases.json) against the Python kit: every case, step by
step, through the kit's public API, with the clock injected. Format: sdk/conformance/README.md.

    cd sdk/python && python3 -m unittest discover -s tests -v
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sys
import tempfile
import threading
import unittest
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from jwt_consumer_kit import ConsumerKit  # noqa: E402

CONFORMANCE = HERE.parent.parent / "conformance"
SUITE = json.loads((CONFORMANCE / "cases.json").read_text())
FIXTURES = json.loads((CONFORMANCE / "fixtures.json").read_text())
_SILENT = __import__("logging").getLogger("jwt_consumer_kit.tests")
_SILENT.disabled = True


def _instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _resolve(secret: dict) -> dict:
    out = {}
    for name, value in secret.items():
        if value.startswith("key:"):
            key = FIXTURES["keys"][value[4:]]
            value = key.get("secret") or key.get("privateKey")
        out[name] = value
    return out


def _read_metrics(kit: ConsumerKit) -> dict:
    """The registry as series -> value, named as in the text format, with le bounds written as numbers."""
    series = {}
    for family in kit.registry.collect():
        for sample in family.samples:
            labels = dict(sample.labels)
            if "le" in labels:
                labels["le"] = f"{float(labels['le']):g}"
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            series[sample.name + (f"{{{inner}}}" if inner else "")] = sample.value
    return series


class _World:
    """One case's surroundings: the mounted Secret directory, the JWKS file or URL, the clock."""

    def __init__(self, case: dict) -> None:
        self.case = case
        self.dir = Path(tempfile.mkdtemp(prefix="kit-conformance-"))
        self.now = 0.0
        self.secret: dict = {}
        self.jwks = None
        self.server = None

    def apply(self, step: dict) -> None:
        self.now = _instant(step["now"])
        if "secret" in step:
            self.secret = _resolve(step["secret"])
            if self.case.get("source") == "dir":
                secret_dir = self.dir / "secret"
                shutil.rmtree(secret_dir, ignore_errors=True)
                secret_dir.mkdir()
                for name, value in self.secret.items():
                    (secret_dir / name).write_text(value, encoding="utf-8")
        if "jwks" in step:
            self.jwks = None if step["jwks"] is None else FIXTURES["jwks"][step["jwks"]]
            if self.jwks is not None:
                (self.dir / "jwks.json").write_text(self.jwks, encoding="utf-8")
            if self.case.get("jwksSource") == "url" and self.server is None:
                self._serve()

    def _serve(self) -> None:
        world = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                body = (world.jwks or "").encode("utf-8")
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def options(self) -> dict:
        options = {"now": lambda: self.now, "reload_interval": None, "logger": _SILENT}
        if self.case.get("algorithm"):
            options["algorithm"] = self.case["algorithm"]
        if self.case.get("source") == "dir":
            options["secret_dir"] = str(self.dir / "secret")
        else:
            options["env"] = dict(self.secret)
        if self.jwks is not None:
            if self.case.get("jwksSource") == "url":
                options["jwks_url"] = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
            else:
                options["jwks_file"] = str(self.dir / "jwks.json")
        return options

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Conformance(unittest.TestCase):
    maxDiff = None

    def run_case(self, case: dict) -> None:
        world = _World(case)
        kit = None
        try:
            for index, step in enumerate(case["steps"], 1):
                with self.subTest(step=index):
                    world.apply(step)
                    kit = self.open_or_reload(world, kit, step)
                    if kit is None:
                        continue
                    if "warning" in step:
                        self.assertIn(step["warning"], "\n".join(kit.keys.warnings))
                    for op in step.get("sign", []):
                        self.check_sign(kit, world.now, op)
                    for op in step.get("verify", []):
                        self.check_verify(kit, op)
                    series = _read_metrics(kit)
                    for name, value in step.get("metrics", {}).items():
                        self.assertEqual(series.get(name), value, name)
        finally:
            if kit is not None:
                kit.close()
            world.close()

    def open_or_reload(self, world: _World, kit, step: dict):
        """Opens the kit (first step, or a restart: a new Secret read from the environment) or reloads it."""
        restart = kit is None or (world.case.get("source") != "dir" and "secret" in step)
        if not restart:
            if "secret" in step or "jwks" in step:
                self.assertEqual(kit.reload(), step.get("reload", "applied"), "reload")
            return kit
        if kit is not None:
            kit.close()
        if step.get("load") == "error":
            with self.assertRaises(Exception):
                ConsumerKit.open(**world.options()).close()
            return None
        opened = ConsumerKit.open(**world.options())
        series = _read_metrics(opened)
        for name in SUITE["metrics"]["initial"]:
            self.assertEqual(series.get(name), 0, f"initial {name}")
        for le in SUITE["metrics"]["buckets"]:
            self.assertIn(f'jwt_validation_duration_seconds_bucket{{le="{float(le):g}"}}', series)
        return opened

    def check_sign(self, kit: ConsumerKit, now: float, op: dict) -> None:
        expect = op["expect"]
        if expect.get("error"):
            with self.assertRaises(Exception):
                kit.sign(op["claims"])
            return
        key = FIXTURES["keys"][expect["key"]]
        alg = expect.get("alg", key["alg"])
        issued = f'jwt_tokens_issued_total{{key_version="{expect["keyVersion"]}"}}'
        before = _read_metrics(kit)[issued]
        signed = kit.sign(op["claims"])
        self.assertEqual((signed.kid, signed.key_version), (key["kid"], expect["keyVersion"]))
        header = json.loads(base64.urlsafe_b64decode(signed.token.split(".")[0] + "=="))
        self.assertEqual(header, {"alg": alg, "typ": "JWT", "kid": key["kid"]})
        # Checked without the kit: the fixture key itself must verify the signature.
        material = key.get("secret") or load_pem_public_key(key["publicKey"].encode())
        claims = jwt.decode(signed.token, material, algorithms=[alg], options={"verify_exp": False, "verify_iat": False})
        iat = int(now)
        self.assertEqual(claims, {**op["claims"], "iat": iat, "exp": iat + expect["ttlSeconds"]})
        self.assertEqual(_read_metrics(kit)[issued], before + 1, issued)

    def check_verify(self, kit: ConsumerKit, op: dict) -> None:
        name, expect = op["token"], op["expect"]
        token = name[1:] if name.startswith("=") else FIXTURES["tokens"][name]["jwt"]
        series = f'jwt_validations_total{{key_version="{expect["keyVersion"]}",result="{expect["result"]}"}}'
        before = _read_metrics(kit)
        verdict = kit.verify(token, op.get("require"))
        seen = {"result": verdict.result, "keyVersion": verdict.key_version}
        want = {"result": expect["result"], "keyVersion": expect["keyVersion"]}
        if "reason" in expect:
            seen["reason"], want["reason"] = verdict.reason, expect["reason"]
        self.assertEqual(seen, want, name)
        if "key" in expect:
            self.assertEqual(verdict.kid, FIXTURES["keys"][expect["key"]]["kid"], name)
        after = _read_metrics(kit)
        self.assertEqual(after[series], before[series] + 1, series)
        count = "jwt_validation_duration_seconds_count"
        self.assertEqual(after[count], before[count] + 1, count)


def _add_cases() -> None:
    for number, case in enumerate(SUITE["cases"], 1):
        slug = re.sub(r"[^a-z0-9]+", "_", case["name"].lower()).strip("_")[:60]
        setattr(Conformance, f"test_{number:02d}_{slug}", lambda self, case=case: self.run_case(case))


_add_cases()

if __name__ == "__main__":
    unittest.main()
