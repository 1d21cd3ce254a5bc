"""From the Secret's variables (and the JWKS, for asymmetric keys) to the keys a replica verifies with and the
key it signs with at a given instant: docs/consumer-contract.md."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

# The Secret's keys, exactly as the operator writes them.
SECRET = "JWT_SECRET"
SECRET_CURRENT = "JWT_SECRET_CURRENT"
SECRET_NEW = "JWT_SECRET_NEW"
ROTATION_DATE = "JWT_SECRET_ROTATION_DATE"
EXPIRATION = "JWT_EXPIRATION"
REFRESH_EXPIRATION = "JWT_REFRESH_EXPIRATION"
#: HMAC only, the workload's setting (HS256, HS384, HS512), not the operator's.
ALGORITHM = "JWT_ALGORITHM"
PRIVATE_KEY = "JWT_PRIVATE_KEY"
PRIVATE_KEY_CURRENT = "JWT_PRIVATE_KEY_CURRENT"
PRIVATE_KEY_NEW = "JWT_PRIVATE_KEY_NEW"

VAR_NAMES = (
    SECRET, SECRET_CURRENT, SECRET_NEW, ROTATION_DATE, EXPIRATION, REFRESH_EXPIRATION, ALGORITHM,
    PRIVATE_KEY, PRIVATE_KEY_CURRENT, PRIVATE_KEY_NEW,
)

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
#: What the operator writes while the new key is published for verification only.
NOT_SCHEDULED = "9999-12-31T23:59:59Z"

_DEFAULT_EXPIRATION = "24h"
_DEFAULT_REFRESH_EXPIRATION = "168h"


class ConfigError(ValueError):
    """No usable key, or a malformed setting. The message never holds key material."""


class Key:
    """One key. Its material is private and it prints as its kid, so it cannot end up in a log by accident."""

    __slots__ = ("version", "kid", "alg", "_sign", "_verify")

    def __init__(self, version: str, kid: str, alg: str, sign: Any, verify: Any) -> None:
        self.version = version
        self.kid = kid
        self.alg = alg
        self._sign = sign
        self._verify = verify

    @property
    def can_sign(self) -> bool:
        return self._sign is not None

    def __repr__(self) -> str:
        return f"Key({self.version} {self.kid})"

    __str__ = __repr__


def fingerprint(text: str) -> str:
    """A key's public name: the first 12 hex digits of SHA-256 over the key text (the HMAC kid)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK: the kid the operator's JWKS gives the key."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty", ""))
    if members is None:
        raise ConfigError(f"no thumbprint for key type {jwk.get('kty')}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hmac_key(text: str, version: str, alg: str) -> Key:
    # The key is the variable's text (PyJWT uses a str as its UTF-8 bytes): never base64-decoded or trimmed.
    return Key(version, fingerprint(text), alg, text, text)


def _algorithm_of(public: Any) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ConfigError(f"unsupported key type {type(public).__name__}")


def _public_jwk(public: Any, alg: str) -> dict:
    algorithm = jwt.get_algorithm_by_name(alg)
    exported = algorithm.to_jwk(public)
    return json.loads(exported) if isinstance(exported, str) else dict(exported)


def private_key(pem: str, version: str) -> Key:
    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise ConfigError("a JWT_PRIVATE_KEY* value is not a PEM private key") from None
    public = key.public_key()
    alg = _algorithm_of(public)
    return Key(version, jwk_thumbprint(_public_jwk(public, alg)), alg, key, public)


def jwk_key(jwk: Mapping[str, Any], next_kid: Optional[str]) -> Key:
    """A verification key from a JWK of the JWKS; a JWK whose alg does not fit its key is refused."""
    try:
        public = jwt.PyJWK(dict(jwk)).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, ValueError, TypeError):
        raise ConfigError("not a usable public JWK") from None
    alg = _algorithm_of(public)
    if jwk.get("alg") not in (None, alg):
        raise ConfigError(f"JWK alg {jwk.get('alg')} does not fit its key")
    kid = jwk.get("kid") or jwk_thumbprint(_public_jwk(public, alg))
    return Key("new" if next_kid is not None and kid == next_kid else "current", kid, alg, None, public)


@dataclass(frozen=True)
class KeyRing:
    """One version of the Secret (and JWKS). Immutable: a reload makes a new one."""

    mode: str  # "dual" while a rotation is in flight (a new key is held), "steady" otherwise
    kind: str  # "hmac" (JWT_SECRET*) or "jwks" (JWT_PRIVATE_KEY* to sign, the JWKS to verify)
    keys: tuple  # every key a token may be verified with
    current: Optional[Key]  # signs before the rotation date; None on a verify-only ring
    next: Optional[Key]
    rotation_date: Optional[float]  # seconds since the epoch; None in steady mode or without a valid date
    access_ttl: int
    refresh_ttl: int
    warnings: tuple = field(default=())
    unpublished: tuple = field(default=())

    def signing_key_at(self, now: float) -> Optional[Key]:
        """CURRENT before the rotation date, NEW from it on. Without a valid date, CURRENT: signing with NEW
        before every replica can verify it would log users out."""
        if self.next is None or self.rotation_date is None:
            return self.current
        return self.next if now >= self.rotation_date else self.current

    def describe(self) -> dict:
        """What may be logged: fingerprints and dates only."""
        out: dict = {"mode": self.mode, "kind": self.kind}
        if self.current is not None:
            out["currentKid"] = self.current.kid
        if self.next is not None:
            out["newKid"] = self.next.kid
        if self.rotation_date is not None:
            out["rotationDate"] = datetime.fromtimestamp(self.rotation_date, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out["accessTtlSeconds"] = self.access_ttl
        return out


def parse_key_ring(vars: Mapping[str, str], algorithm: Optional[str] = None, jwks: Optional[str] = None) -> KeyRing:
    """Raises ConfigError when no key is usable or a duration is malformed. `jwks` (the JWK Set's text) means
    asymmetric keys, verified by kid against it."""
    algorithm = algorithm or vars.get(ALGORITHM) or None
    access = _ttl(vars, EXPIRATION, _DEFAULT_EXPIRATION)
    refresh = _ttl(vars, REFRESH_EXPIRATION, _DEFAULT_REFRESH_EXPIRATION)
    if jwks is not None or vars.get(PRIVATE_KEY) or vars.get(PRIVATE_KEY_CURRENT):
        parts = _parse_asymmetric(vars, jwks, algorithm)
    else:
        parts = _parse_hmac(vars, algorithm or "HS256")
    return KeyRing(access_ttl=access, refresh_ttl=refresh, **parts)


def _parse_hmac(vars: Mapping[str, str], alg: str) -> dict:
    if alg not in HMAC_ALGORITHMS:
        raise ConfigError(f"{ALGORITHM} must be one of {', '.join(HMAC_ALGORITHMS)} for a JWT_SECRET key")
    warnings: list = []
    secret = vars.get(SECRET) or None
    current_text = vars.get(SECRET_CURRENT) or secret
    if current_text is None:
        raise ConfigError(f"Neither {SECRET} nor {SECRET_CURRENT} is set")
    current = hmac_key(current_text, "current", alg)
    keys = [current]
    # During a rotation JWT_SECRET equals JWT_SECRET_CURRENT. If a hand-edited Secret breaks that, keep
    # accepting tokens signed with either rather than logging users out.
    if secret is not None and secret != current_text:
        keys.append(hmac_key(secret, "current", alg))
        warnings.append(f"{SECRET} differs from {SECRET_CURRENT}; both are accepted as the current key")
    next_text = vars.get(SECRET_NEW) or None
    nxt = None
    if next_text is not None and next_text != current_text:
        nxt = hmac_key(next_text, "new", alg)
        keys.append(nxt)
    elif next_text is not None:
        warnings.append(f"{SECRET_NEW} equals the current key; running in steady mode")
    return _finish("hmac", keys, current, nxt, vars, warnings, ())


def _parse_asymmetric(vars: Mapping[str, str], jwks: Optional[str], algorithm: Optional[str]) -> dict:
    """Sign with JWT_PRIVATE_KEY_CURRENT (or JWT_PRIVATE_KEY) before the date and JWT_PRIVATE_KEY_NEW from it
    on; verify with the JWKS, by kid. A JWK verifies as "new" when its kid is JWT_PRIVATE_KEY_NEW's."""
    warnings: list = []
    current_pem = vars.get(PRIVATE_KEY_CURRENT) or vars.get(PRIVATE_KEY) or None
    current = private_key(current_pem, "current") if current_pem else None
    nxt = None
    next_pem = vars.get(PRIVATE_KEY_NEW) or None
    if current is not None and next_pem is not None:
        candidate = private_key(next_pem, "new")
        if candidate.kid != current.kid:
            nxt = candidate
        else:
            warnings.append(f"{PRIVATE_KEY_NEW} equals the current key; running in steady mode")
    for key in (current, nxt):
        if key is not None and algorithm is not None and key.alg != algorithm:
            raise ConfigError(f"a JWT_PRIVATE_KEY* key is {key.alg}, not {algorithm}")
    if jwks is None:
        raise ConfigError(f"{PRIVATE_KEY} is set but no JWKS was read: give a JWKS file or URL")
    keys = _parse_jwks(jwks, nxt.kid if nxt else None, warnings)
    unpublished = tuple(k.kid for k in (current, nxt) if k is not None and all(p.kid != k.kid for p in keys))
    warnings.extend(f"private key {kid} is not in the JWKS" for kid in unpublished)
    return _finish("jwks", keys, current, nxt, vars, warnings, unpublished)


def _parse_jwks(text: str, next_kid: Optional[str], warnings: list) -> list:
    try:
        parsed = json.loads(text)
    except ValueError:
        raise ConfigError("the JWKS is not JSON") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("keys"), list):
        raise ConfigError("the JWKS has no keys array")
    keys = []
    for jwk in parsed["keys"]:
        try:
            keys.append(jwk_key(jwk, next_kid))
        except ConfigError:
            warnings.append(f"JWKS key {jwk.get('kid') if isinstance(jwk, dict) else None} is not a usable public key; skipped")
    return keys


def _finish(kind, keys, current, nxt, vars, warnings, unpublished) -> dict:
    rotation_date = None if nxt is None else _parse_rotation_date(vars.get(ROTATION_DATE) or None, warnings)
    return {
        "mode": "steady" if nxt is None else "dual", "kind": kind, "keys": tuple(keys), "current": current,
        "next": nxt, "rotation_date": rotation_date, "warnings": tuple(warnings), "unpublished": tuple(unpublished),
    }


# RFC 3339 needs a date, a time and an offset: "2026-06-01" or a local time is no instant.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _parse_rotation_date(text: Optional[str], warnings: list) -> Optional[float]:
    if text is not None and _RFC3339.match(text):
        try:
            return datetime.fromisoformat(text[:10] + "T" + text[11:].upper()).timestamp()
        except ValueError:
            pass
    problem = "missing" if text is None else "not an RFC 3339 instant"
    warnings.append(f"{ROTATION_DATE} is {problem}; signing with the current key")
    return None


_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (24h, 15m, 1h30m, 1.5h); ValueError on anything Go would reject."""
    if text == "0":
        return 0.0
    if not _DURATION.match(text):
        raise ValueError(f'"{text}" is not a Go duration (examples: 24h, 15m, 1h30m)')
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))


def _ttl(vars: Mapping[str, str], name: str, fallback: str) -> int:
    text = vars.get(name) or fallback
    try:
        seconds = parse_go_duration(text)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None
    if seconds < 1:
        raise ConfigError(f'{name} must be at least 1s, got "{text}"')
    return math.floor(seconds)
