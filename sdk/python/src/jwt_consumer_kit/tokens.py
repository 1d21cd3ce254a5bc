"""Signing and verifying by the contract: sign with the key the date selects, kid set; verify by kid with
exactly that key's algorithm (never none, never the algorithm from the token alone), falling back to each key
when the kid is absent (or, for HMAC, unknown). PyJWT checks the signature, the algorithm and the required
claims; exp and nbf are checked against the kit's clock (PyJWT only reads the system clock)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import jwt

from .keys import Key, KeyRing

#: Skew forgiven on exp and nbf between the replica that signed and the one that verifies.
CLOCK_TOLERANCE_SECONDS = 30

# Why a token was refused: the same words in every kit (sdk/conformance).
MALFORMED, ALGORITHM, UNKNOWN_KID, SIGNATURE, EXPIRED, CLAIMS, ERROR = (
    "malformed", "algorithm", "unknown_kid", "signature", "expired", "claims", "error",
)


@dataclass(frozen=True)
class Verification:
    """The verdict on one token, labelled as the metrics want it."""

    result: str  # success, rejected or error
    key_version: str  # current, new (the key that verified the signature) or none
    reason: Optional[str] = None
    kid: Optional[str] = None
    claims: dict = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.result == "success"


@dataclass(frozen=True)
class Signed:
    token: str
    kid: str
    key_version: str
    expires_at: int


class NoSigningKeyError(RuntimeError):
    def __init__(self) -> None:
        super().__init__("no private key is held: this replica only verifies")


def sign_with(key: Optional[Key], claims: Mapping[str, Any], now: float, ttl: int) -> Signed:
    """Signs with key; iat is now and exp now + ttl, whatever the claims say."""
    if key is None or not key.can_sign:
        raise NoSigningKeyError()
    iat = math.floor(now)
    payload = {**claims, "iat": iat, "exp": iat + ttl}
    token = jwt.encode(payload, key._sign, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})
    return Signed(token, key.kid, key.version, iat + ttl)


def _rejected(version: str, reason: str) -> Verification:
    return Verification("rejected", version, reason)


def verify_token(ring: KeyRing, token: str, now: float, require: Optional[Mapping[str, str]] = None) -> Verification:
    """Never raises: failures are results."""
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.DecodeError, ValueError, TypeError):
        return _rejected("none", MALFORMED)
    candidates = _candidate_keys(ring, header.get("alg"), header.get("kid"))
    if isinstance(candidates, str):
        return _rejected("none", candidates)
    for key in candidates:
        verdict = _verify_with(key, token, now, require or {})
        if verdict is not None:
            return verdict
    return _rejected("none", SIGNATURE)


def _candidate_keys(ring: KeyRing, alg: Any, kid: Any):
    """The keys that may verify a token with this header, or why none may."""
    if not isinstance(alg, str) or alg.lower() == "none":
        return ALGORITHM
    if isinstance(kid, str):
        named = next((k for k in ring.keys if k.kid == kid), None)
        if named is not None:
            return [named] if named.alg == alg else ALGORITHM
        # A JWKS names every key it holds: a kid it does not list is not ours.
        if ring.kind == "jwks":
            return UNKNOWN_KID
    same = [k for k in ring.keys if k.alg == alg]
    return same or ALGORITHM


_OPTIONS = {
    "require": ["exp"], "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
    "verify_iss": False,
}


def _verify_with(key: Key, token: str, now: float, require: Mapping[str, str]) -> Optional[Verification]:
    """One key's verdict, or None when its signature does not match (try the next key)."""
    try:
        claims = jwt.decode(token, key._verify, algorithms=[key.alg], options=_OPTIONS)
    except jwt.InvalidSignatureError:
        return None
    except jwt.MissingRequiredClaimError:
        return _rejected(key.version, CLAIMS)
    except jwt.DecodeError:
        return _rejected("none", MALFORMED)
    except jwt.InvalidTokenError:
        return _rejected(key.version, CLAIMS)
    except Exception:  # the kit failed, not the token
        return Verification("error", "none", ERROR)
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not _is_number(exp) or (nbf is not None and not _is_number(nbf)):
        return _rejected(key.version, CLAIMS)
    if exp <= now - CLOCK_TOLERANCE_SECONDS:
        return _rejected(key.version, EXPIRED)
    if nbf is not None and nbf > now + CLOCK_TOLERANCE_SECONDS:
        return _rejected(key.version, CLAIMS)
    if any(claims.get(name) != value for name, value in require.items()):
        return _rejected(key.version, CLAIMS)
    return Verification("success", key.version, None, key.kid, claims)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def self_test(ring: KeyRing, now: float, strict: bool = True) -> None:
    """Signs and verifies a probe with every key held: a kit only switches to keys that work. `strict` (the
    first load) also requires every private key held to verify through the JWKS; a later JWKS that drops a key
    is taken (a compromised key must stop verifying at once), with a warning in the ring."""
    probe = {"sub": "self-test"}
    if ring.kind == "jwks":
        for key in (ring.current, ring.next):
            if key is None:
                continue
            signed = sign_with(key, probe, now, 60)
            if verify_token(ring, signed.token, now).valid:
                continue
            if strict:
                raise RuntimeError(f"self-test failed: private key {key.kid} does not verify through the JWKS")
            own = KeyRing(ring.mode, ring.kind, (key,), None, None, None, 60, 60)
            if not verify_token(own, signed.token, now).valid:
                raise RuntimeError(f"self-test failed for key {key.kid}")
        return
    for key in ring.keys:
        signed = sign_with(key, probe, now, 60)
        own = KeyRing(ring.mode, ring.kind, (key,), None, None, None, 60, 60)
        if not verify_token(own, signed.token, now).valid:
            raise RuntimeError(f"self-test failed for key {key.kid}")
