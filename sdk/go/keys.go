package consumerkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The Secret's keys, exactly as the operator writes them (docs/consumer-contract.md).
const (
	VarSecret            = "JWT_SECRET"
	VarSecretCurrent     = "JWT_SECRET_CURRENT"
	VarSecretNew         = "JWT_SECRET_NEW"
	VarRotationDate      = "JWT_SECRET_ROTATION_DATE"
	VarExpiration        = "JWT_EXPIRATION"
	VarRefreshExpiration = "JWT_REFRESH_EXPIRATION"
	// VarAlgorithm is the workload's setting for HMAC keys (HS256, HS384, HS512), not the operator's.
	VarAlgorithm         = "JWT_ALGORITHM"
	VarPrivateKey        = "JWT_PRIVATE_KEY"
	VarPrivateKeyCurrent = "JWT_PRIVATE_KEY_CURRENT"
	VarPrivateKeyNew     = "JWT_PRIVATE_KEY_NEW"
)

// VarNames lists every variable the kit reads.
var VarNames = []string{
	VarSecret, VarSecretCurrent, VarSecretNew, VarRotationDate, VarExpiration, VarRefreshExpiration,
	VarAlgorithm, VarPrivateKey, VarPrivateKeyCurrent, VarPrivateKeyNew,
}

// Key versions, the key_version metric label.
const (
	VersionCurrent = "current"
	VersionNew     = "new"
	VersionNone    = "none"
)

// NotScheduled is the date the operator writes while the new key is published for verification only.
const NotScheduled = "9999-12-31T23:59:59Z"

var hmacAlgorithms = []string{"HS256", "HS384", "HS512"}

const (
	defaultExpiration        = 24 * time.Hour
	defaultRefreshExpiration = 168 * time.Hour
)

// ConfigError says why a Secret (or JWKS) gives no usable keys. It never holds key material.
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return e.msg }

func configError(format string, args ...any) error { return &ConfigError{fmt.Sprintf(format, args...)} }

// Key is one signing or verification key. Its material is unexported and it prints as its kid, so it
// cannot end up in a log by accident.
type Key struct {
	// Version is "current" or "new".
	Version string
	// Kid is the fingerprint (HMAC) or the RFC 7638 thumbprint of the public key.
	Kid string
	// Alg is the JWS algorithm the key signs and verifies.
	Alg    string
	sign   any
	verify any
}

// String shows the kid only.
func (k *Key) String() string { return fmt.Sprintf("Key(%s %s)", k.Version, k.Kid) }

// CanSign is true for keys that hold a private (or HMAC) key.
func (k *Key) CanSign() bool { return k.sign != nil }

// Fingerprint is a key's public name: the first 12 hex digits of SHA-256 over the key text, the kid of an
// HMAC key and what the operator shows in status and Events.
func Fingerprint(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])[:12]
}

func hmacKey(text, version, alg string) *Key {
	// The key is the variable's text as bytes: never base64-decoded, never trimmed.
	return &Key{Version: version, Kid: Fingerprint(text), Alg: alg, sign: []byte(text), verify: []byte(text)}
}

func privateKey(pemText, version string) (*Key, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, configError("a JWT_PRIVATE_KEY* value is not a PEM private key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, configError("a JWT_PRIVATE_KEY* value is not a PKCS#8 private key")
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, configError("unsupported private key type")
	}
	public := signer.Public()
	alg, err := algorithmOf(public)
	if err != nil {
		return nil, err
	}
	kid, err := thumbprint(public)
	if err != nil {
		return nil, err
	}
	return &Key{Version: version, Kid: kid, Alg: alg, sign: parsed, verify: public}, nil
}

func thumbprint(public any) (string, error) {
	sum, err := (&jose.JSONWebKey{Key: public}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", configError("no thumbprint for this key type")
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func algorithmOf(public any) (string, error) {
	switch k := public.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ES256", nil
		}
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", configError("unsupported key type %T", public)
}

// KeyRing is one version of the Secret (and JWKS): the keys to verify with, the keys to sign with and when.
// It is immutable; a reload makes a new one.
type KeyRing struct {
	// Mode is "dual" while a rotation is in flight (a new key is held), "steady" otherwise.
	Mode string
	// Kind is "hmac" (JWT_SECRET*) or "jwks" (JWT_PRIVATE_KEY* to sign, the JWKS to verify).
	Kind string
	// Keys verify tokens.
	Keys []*Key
	// Current signs before RotationDate; nil on a verify-only ring (a JWKS and no private key).
	Current *Key
	// Next signs from RotationDate on; nil in steady mode.
	Next *Key
	// RotationDate is zero in steady mode, or when the date is missing or invalid.
	RotationDate time.Time
	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	Warnings     []string
	Unpublished  []string
}

// SigningKeyAt is the key to sign with at now: Current before RotationDate, Next from it on. Without a valid
// date it stays on Current: signing with the new key before every replica verifies it logs users out.
func (r *KeyRing) SigningKeyAt(now time.Time) *Key {
	if r.Next == nil || r.RotationDate.IsZero() {
		return r.Current
	}
	if now.Before(r.RotationDate) {
		return r.Current
	}
	return r.Next
}

// Describe is what may be logged about a ring: fingerprints and dates only.
func (r *KeyRing) Describe() []any {
	attrs := []any{"mode", r.Mode, "kind", r.Kind}
	if r.Current != nil {
		attrs = append(attrs, "currentKid", r.Current.Kid)
	}
	if r.Next != nil {
		attrs = append(attrs, "newKid", r.Next.Kid)
	}
	if !r.RotationDate.IsZero() {
		attrs = append(attrs, "rotationDate", r.RotationDate.UTC().Format(time.RFC3339))
	}
	return append(attrs, "accessTtlSeconds", int64(r.AccessTTL.Seconds()))
}

// ParseOptions are the settings that do not come from the Secret.
type ParseOptions struct {
	// Algorithm is HS256 (default), HS384 or HS512 for JWT_SECRET keys; default JWT_ALGORITHM.
	Algorithm string
	// JWKS is the JWK Set's text; set, the keys are asymmetric and verified by kid against it.
	JWKS *string
}

// ParseKeyRing reads one version of the Secret. It fails when no key is usable or a duration is malformed.
func ParseKeyRing(vars map[string]string, opts ParseOptions) (*KeyRing, error) {
	algorithm := opts.Algorithm
	if algorithm == "" {
		algorithm = vars[VarAlgorithm]
	}
	access, err := ttl(vars, VarExpiration, defaultExpiration)
	if err != nil {
		return nil, err
	}
	refresh, err := ttl(vars, VarRefreshExpiration, defaultRefreshExpiration)
	if err != nil {
		return nil, err
	}
	var ring *KeyRing
	if opts.JWKS != nil || vars[VarPrivateKey] != "" || vars[VarPrivateKeyCurrent] != "" {
		ring, err = parseAsymmetric(vars, opts.JWKS, algorithm)
	} else {
		ring, err = parseHMAC(vars, algorithm)
	}
	if err != nil {
		return nil, err
	}
	ring.AccessTTL, ring.RefreshTTL = access, refresh
	return ring, nil
}

func parseHMAC(vars map[string]string, alg string) (*KeyRing, error) {
	if alg == "" {
		alg = "HS256"
	}
	if !slices.Contains(hmacAlgorithms, alg) {
		return nil, configError("%s must be one of %s for a JWT_SECRET key", VarAlgorithm, strings.Join(hmacAlgorithms, ", "))
	}
	secret := vars[VarSecret]
	currentText := firstNonEmpty(vars[VarSecretCurrent], secret)
	if currentText == "" {
		return nil, configError("Neither %s nor %s is set", VarSecret, VarSecretCurrent)
	}
	ring := &KeyRing{Mode: "steady", Kind: "hmac", Current: hmacKey(currentText, VersionCurrent, alg)}
	ring.Keys = []*Key{ring.Current}
	// During a rotation JWT_SECRET equals JWT_SECRET_CURRENT. If a hand-edited Secret breaks that, keep
	// accepting tokens signed with either rather than logging users out.
	if secret != "" && secret != currentText {
		ring.Keys = append(ring.Keys, hmacKey(secret, VersionCurrent, alg))
		ring.Warnings = append(ring.Warnings, VarSecret+" differs from "+VarSecretCurrent+"; both are accepted as the current key")
	}
	if next := vars[VarSecretNew]; next != "" && next != currentText {
		ring.Next = hmacKey(next, VersionNew, alg)
		ring.Keys = append(ring.Keys, ring.Next)
	} else if next != "" {
		ring.Warnings = append(ring.Warnings, VarSecretNew+" equals the current key; running in steady mode")
	}
	ring.finish(vars)
	return ring, nil
}

// parseAsymmetric: sign with JWT_PRIVATE_KEY_CURRENT (or JWT_PRIVATE_KEY) before the date and
// JWT_PRIVATE_KEY_NEW from it on; verify with the JWKS, by kid. A JWK is "new" when its kid is the new key's.
func parseAsymmetric(vars map[string]string, jwks *string, algorithm string) (*KeyRing, error) {
	ring := &KeyRing{Mode: "steady", Kind: "jwks"}
	if pemText := firstNonEmpty(vars[VarPrivateKeyCurrent], vars[VarPrivateKey]); pemText != "" {
		current, err := privateKey(pemText, VersionCurrent)
		if err != nil {
			return nil, err
		}
		ring.Current = current
		if nextText := vars[VarPrivateKeyNew]; nextText != "" {
			next, err := privateKey(nextText, VersionNew)
			if err != nil {
				return nil, err
			}
			if next.Kid != current.Kid {
				ring.Next = next
			} else {
				ring.Warnings = append(ring.Warnings, VarPrivateKeyNew+" equals the current key; running in steady mode")
			}
		}
	}
	for _, k := range []*Key{ring.Current, ring.Next} {
		if k != nil && algorithm != "" && k.Alg != algorithm {
			return nil, configError("a JWT_PRIVATE_KEY* key is %s, not %s", k.Alg, algorithm)
		}
	}
	if jwks == nil {
		return nil, configError("%s is set but no JWKS was read: give a JWKS file or URL", VarPrivateKey)
	}
	if err := ring.parseJWKS(*jwks); err != nil {
		return nil, err
	}
	for _, k := range []*Key{ring.Current, ring.Next} {
		if k != nil && !slices.ContainsFunc(ring.Keys, func(p *Key) bool { return p.Kid == k.Kid }) {
			ring.Unpublished = append(ring.Unpublished, k.Kid)
			ring.Warnings = append(ring.Warnings, "private key "+k.Kid+" is not in the JWKS")
		}
	}
	ring.finish(vars)
	return ring, nil
}

func (r *KeyRing) parseJWKS(text string) error {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(text), &set); err != nil {
		return configError("the JWKS is not JSON")
	}
	if set.Keys == nil {
		return configError("the JWKS has no keys array")
	}
	for _, raw := range set.Keys {
		key, err := jwkKey(raw, r.Next)
		if err != nil {
			r.Warnings = append(r.Warnings, "JWKS key is not a usable public key; skipped")
			continue
		}
		r.Keys = append(r.Keys, key)
	}
	return nil
}

func jwkKey(raw json.RawMessage, next *Key) (*Key, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil || !jwk.IsPublic() {
		return nil, errors.New("not a public JWK")
	}
	alg, err := algorithmOf(jwk.Key)
	if err != nil || (jwk.Algorithm != "" && jwk.Algorithm != alg) {
		return nil, errors.New("the JWK's alg does not fit its key")
	}
	kid := jwk.KeyID
	if kid == "" {
		if kid, err = thumbprint(jwk.Key); err != nil {
			return nil, err
		}
	}
	version := VersionCurrent
	if next != nil && kid == next.Kid {
		version = VersionNew
	}
	return &Key{Version: version, Kid: kid, Alg: alg, verify: jwk.Key}, nil
}

// finish sets the mode and the rotation date once the keys are known.
func (r *KeyRing) finish(vars map[string]string) {
	if r.Next == nil {
		return
	}
	r.Mode = "dual"
	r.RotationDate = parseRotationDate(vars[VarRotationDate], &r.Warnings)
}

// rfc3339 needs a date, a time and an offset: "2026-06-01" or a local time is no instant.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

func parseRotationDate(text string, warnings *[]string) time.Time {
	if text != "" && rfc3339.MatchString(text) {
		normal := strings.ToUpper(text[:10] + "T" + text[11:])
		if date, err := time.Parse(time.RFC3339Nano, normal); err == nil {
			return date
		}
	}
	problem := "missing"
	if text != "" {
		problem = "not an RFC 3339 instant"
	}
	*warnings = append(*warnings, VarRotationDate+" is "+problem+"; signing with the current key")
	return time.Time{}
}

func ttl(vars map[string]string, name string, fallback time.Duration) (time.Duration, error) {
	text := vars[name]
	if text == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, configError("%s: %q is not a Go duration (examples: 24h, 15m, 1h30m)", name, text)
	}
	if d < time.Second {
		return 0, configError("%s must be at least 1s, got %q", name, text)
	}
	return d.Truncate(time.Second), nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
