"""jwt-consumer-kit: the jwt-rotation-operator consumer contract for Python services (PyJWT, cryptography,
prometheus_client). See docs/consumer-contract.md."""

from .keys import (
    HMAC_ALGORITHMS,
    NOT_SCHEDULED,
    VAR_NAMES,
    ConfigError,
    Key,
    KeyRing,
    fingerprint,
    jwk_thumbprint,
    parse_go_duration,
    parse_key_ring,
)
from .kit import APPLIED, KEPT, UNCHANGED, ConsumerKit, read_secret_dir
from .metrics import VALIDATION_DURATION_BUCKETS, KitMetrics
from .sessions import SessionTracker
from .tokens import (
    CLOCK_TOLERANCE_SECONDS,
    NoSigningKeyError,
    Signed,
    Verification,
    self_test,
    sign_with,
    verify_token,
)

__all__ = [
    "APPLIED", "CLOCK_TOLERANCE_SECONDS", "HMAC_ALGORITHMS", "KEPT", "NOT_SCHEDULED", "UNCHANGED",
    "VALIDATION_DURATION_BUCKETS", "VAR_NAMES", "ConfigError", "ConsumerKit", "Key", "KeyRing", "KitMetrics",
    "NoSigningKeyError", "SessionTracker", "Signed", "Verification", "fingerprint", "jwk_thumbprint",
    "parse_go_duration", "parse_key_ring", "read_secret_dir", "self_test", "sign_with", "verify_token",
]
__version__ = "0.1.0"
