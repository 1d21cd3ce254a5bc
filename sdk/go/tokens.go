package consumerkit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClockTolerance is the skew forgiven on exp and nbf between the replica that signed and the one that verifies.
const ClockTolerance = 30 * time.Second

// Results, the result metric label.
const (
	ResultSuccess  = "success"
	ResultRejected = "rejected"
	ResultError    = "error"
)

// Why a token was refused: the same words in every kit (sdk/conformance).
const (
	ReasonMalformed  = "malformed"
	ReasonAlgorithm  = "algorithm"
	ReasonUnknownKid = "unknown_kid"
	ReasonSignature  = "signature"
	ReasonExpired    = "expired"
	ReasonClaims     = "claims"
	ReasonError      = "error"
)

// Verification is the verdict on one token, labelled as the metrics want it.
type Verification struct {
	// Result is success, rejected or error.
	Result string
	// KeyVersion is the key that verified the signature (current, new), or none.
	KeyVersion string
	// Reason says why a token was not accepted; empty on success.
	Reason string
	// Kid is the verifying key's, on success.
	Kid    string
	Claims jwt.MapClaims
	// Err is the internal failure behind an "error" result.
	Err error
}

// Valid is true when the token was accepted.
func (v Verification) Valid() bool { return v.Result == ResultSuccess }

// Signed is a token and the key that signed it.
type Signed struct {
	Token      string
	Kid        string
	KeyVersion string
	// ExpiresAt is the exp claim.
	ExpiresAt time.Time
}

// ErrNoSigningKey is returned by Sign on a verify-only kit (a JWKS and no private key).
var ErrNoSigningKey = errors.New("no private key is held: this replica only verifies")

// SignWith signs claims with key; iat is now and exp now+ttl, whatever the claims say.
func SignWith(key *Key, claims map[string]any, now time.Time, ttl time.Duration) (Signed, error) {
	if key == nil || !key.CanSign() {
		return Signed{}, ErrNoSigningKey
	}
	payload := jwt.MapClaims{}
	for name, value := range claims {
		payload[name] = value
	}
	iat := now.Unix()
	exp := iat + int64(ttl/time.Second)
	payload["iat"], payload["exp"] = iat, exp
	token := jwt.NewWithClaims(jwt.GetSigningMethod(key.Alg), payload)
	token.Header["kid"] = key.Kid
	text, err := token.SignedString(key.sign)
	if err != nil {
		return Signed{}, fmt.Errorf("signing with key %s: %w", key.Kid, err)
	}
	return Signed{Token: text, Kid: key.Kid, KeyVersion: key.Version, ExpiresAt: time.Unix(exp, 0)}, nil
}

// VerifyOptions are the checks beyond the signature and the time claims.
type VerifyOptions struct {
	// Require holds claims that must be present with exactly these values (e.g. token_use: access).
	Require map[string]string
}

// VerifyToken verifies a token against ring at now. It never panics and never returns an error: failures
// are results.
func VerifyToken(ring *KeyRing, token string, now time.Time, opts VerifyOptions) Verification {
	alg, kid, err := header(token)
	if err != nil {
		return rejected(VersionNone, ReasonMalformed)
	}
	candidates, reason := candidateKeys(ring, alg, kid)
	if reason != "" {
		return rejected(VersionNone, reason)
	}
	for _, key := range candidates {
		if v, done := verifyWith(key, token, now, opts); done {
			return v
		}
	}
	return rejected(VersionNone, ReasonSignature)
}

func rejected(version, reason string) Verification {
	return Verification{Result: ResultRejected, KeyVersion: version, Reason: reason}
}

// header reads alg and kid (nil when absent) without trusting either.
func header(token string) (string, *string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", nil, err
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", nil, err
	}
	alg, _ := h["alg"].(string)
	if kid, ok := h["kid"].(string); ok {
		return alg, &kid, nil
	}
	return alg, nil, nil
}

// candidateKeys are the keys that may verify a token with this alg and kid, or why none may.
func candidateKeys(ring *KeyRing, alg string, kid *string) ([]*Key, string) {
	if alg == "" || strings.EqualFold(alg, "none") {
		return nil, ReasonAlgorithm
	}
	if kid != nil {
		for _, k := range ring.Keys {
			if k.Kid == *kid {
				if k.Alg != alg {
					return nil, ReasonAlgorithm
				}
				return []*Key{k}, ""
			}
		}
		// A JWKS names every key it holds: a kid it does not list is not ours.
		if ring.Kind == "jwks" {
			return nil, ReasonUnknownKid
		}
	}
	var same []*Key
	for _, k := range ring.Keys {
		if k.Alg == alg {
			same = append(same, k)
		}
	}
	if len(same) == 0 {
		return nil, ReasonAlgorithm
	}
	return same, ""
}

// verifyWith is one key's verdict; done is false when the signature does not match (try the next key).
func verifyWith(key *Key, token string, now time.Time, opts VerifyOptions) (Verification, bool) {
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return key.verify, nil },
		jwt.WithValidMethods([]string{key.Alg}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(ClockTolerance),
		jwt.WithExpirationRequired(),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Verification{}, false
	case errors.Is(err, jwt.ErrTokenExpired):
		return rejected(key.Version, ReasonExpired), true
	case errors.Is(err, jwt.ErrTokenInvalidClaims), errors.Is(err, jwt.ErrTokenNotValidYet),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return rejected(key.Version, ReasonClaims), true
	case errors.Is(err, jwt.ErrTokenMalformed):
		return rejected(VersionNone, ReasonMalformed), true
	default:
		return Verification{Result: ResultError, KeyVersion: VersionNone, Reason: ReasonError, Err: err}, true
	}
	claims, _ := parsed.Claims.(jwt.MapClaims)
	for name, want := range opts.Require {
		if got, ok := claims[name].(string); !ok || got != want {
			return rejected(key.Version, ReasonClaims), true
		}
	}
	return Verification{Result: ResultSuccess, KeyVersion: key.Version, Kid: key.Kid, Claims: claims}, true
}

// selfTest signs and verifies a probe with every key held: a kit only switches to keys that work. strict
// (the first load) also requires every private key held to verify through the JWKS; a later JWKS that drops
// a key is taken (a compromised key must stop verifying at once), with a warning in the ring.
func selfTest(ring *KeyRing, now time.Time, strict bool) error {
	probe := map[string]any{"sub": "self-test"}
	if ring.Kind == "jwks" {
		for _, key := range []*Key{ring.Current, ring.Next} {
			if key == nil {
				continue
			}
			signed, err := SignWith(key, probe, now, time.Minute)
			if err != nil {
				return err
			}
			if VerifyToken(ring, signed.Token, now, VerifyOptions{}).Valid() {
				continue
			}
			if strict {
				return fmt.Errorf("self-test failed: private key %s does not verify through the JWKS", key.Kid)
			}
			own := &KeyRing{Kind: ring.Kind, Keys: []*Key{key}}
			if !VerifyToken(own, signed.Token, now, VerifyOptions{}).Valid() {
				return fmt.Errorf("self-test failed for key %s", key.Kid)
			}
		}
		return nil
	}
	for _, key := range ring.Keys {
		signed, err := SignWith(key, probe, now, time.Minute)
		if err != nil {
			return err
		}
		if !VerifyToken(&KeyRing{Kind: ring.Kind, Keys: []*Key{key}}, signed.Token, now, VerifyOptions{}).Valid() {
			return fmt.Errorf("self-test failed for key %s", key.Kid)
		}
	}
	return nil
}
