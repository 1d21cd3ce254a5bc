// Package consumerkit is the jwt-rotation-operator consumer contract for Go services: verify with either key
// during a rotation, sign with the new key from JWT_SECRET_ROTATION_DATE on, kid set, the Secret and the
// JWKS re-read without a restart, and the metrics the operator's gate reads. Built on golang-jwt (tokens),
// go-jose (JWK Sets) and client_golang (metrics). See docs/consumer-contract.md.
package consumerkit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options say where the keys come from. With neither SecretDir nor Read, the Secret is the environment.
type Options struct {
	// Env is the Secret as environment variables, read once (default: the process environment).
	Env map[string]string
	// SecretDir is a mounted Secret volume (one file per key), re-read every ReloadInterval.
	SecretDir string
	// Read is any other source of the Secret's variables, re-read every ReloadInterval.
	Read func(context.Context) (map[string]string, error)
	// JWKSFile is the operator's JWKS ConfigMap mounted as a file: asymmetric keys, verified by kid.
	JWKSFile string
	// JWKSURL is fetched at start and every JWKSRefresh instead.
	JWKSURL string
	// Algorithm is HS256 (default), HS384 or HS512 for JWT_SECRET keys; default JWT_ALGORITHM.
	Algorithm string
	// ReloadInterval defaults to 1s; negative turns the timer off (call Reload yourself).
	ReloadInterval time.Duration
	// JWKSRefresh defaults to 30s: no longer than kubelet's delay for a mounted ConfigMap.
	JWKSRefresh time.Duration
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Registerer receives the metrics; default a new registry, served by Kit.MetricsHandler.
	Registerer prometheus.Registerer
	// SessionWindow defaults to 5 minutes.
	SessionWindow time.Duration
	// Logger gets fingerprints, never keys; default slog.Default().
	Logger *slog.Logger
	// HTTPClient fetches JWKSURL; default one with a 10 s timeout.
	HTTPClient *http.Client
}

// Reload outcomes.
const (
	ReloadApplied   = "applied"
	ReloadUnchanged = "unchanged"
	ReloadKept      = "kept"
)

// Kit holds the keys in use, reloads them, signs, verifies and counts.
type Kit struct {
	opts     Options
	ring     atomic.Pointer[KeyRing]
	digest   string
	jwks     *string
	fetched  time.Time
	problem  string
	mu       sync.Mutex // one reload at a time
	sessions *Sessions
	metrics  *Metrics
	gatherer prometheus.Gatherer
	stop     context.CancelFunc
	done     chan struct{}
}

// Open reads and checks the keys, and starts reloading them. It fails when there is no usable key: do not
// start serving then.
func Open(ctx context.Context, opts Options) (*Kit, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.SessionWindow == 0 {
		opts.SessionWindow = 5 * time.Minute
	}
	k := &Kit{opts: opts, sessions: NewSessions(opts.SessionWindow, 100_000), done: make(chan struct{})}
	jwks, err := k.readJWKS(ctx)
	if err != nil {
		return nil, err
	}
	k.fetched = time.Now()
	vars, err := k.readVars(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.load(vars, jwks, true); err != nil {
		return nil, err
	}
	reg := opts.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, k.gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		k.gatherer = g
	}
	if k.metrics, err = newMetrics(reg, k.sessions, opts.Now); err != nil {
		return nil, err
	}
	k.announce("keys loaded")
	k.startTimer()
	return k, nil
}

// Keys is the key ring in use now.
func (k *Kit) Keys() *KeyRing { return k.ring.Load() }

// Gatherer is the kit's own registry (nil when Options.Registerer is not a Gatherer).
func (k *Kit) Gatherer() prometheus.Gatherer { return k.gatherer }

// MetricsHandler serves the kit's registry for Prometheus.
func (k *Kit) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(k.gatherer, promhttp.HandlerOpts{})
}

// SignOption changes one signature.
type SignOption func(*signSettings)

type signSettings struct{ ttl time.Duration }

// WithTTL sets exp to iat+ttl instead of iat+JWT_EXPIRATION (e.g. Keys().RefreshTTL for a refresh token).
func WithTTL(ttl time.Duration) SignOption { return func(s *signSettings) { s.ttl = ttl } }

// Sign signs claims with the key the rotation date selects now, kid set; iat is now and exp now plus
// JWT_EXPIRATION. It returns ErrNoSigningKey on a verify-only kit.
func (k *Kit) Sign(claims map[string]any, options ...SignOption) (Signed, error) {
	ring := k.Keys()
	settings := signSettings{ttl: ring.AccessTTL}
	for _, o := range options {
		o(&settings)
	}
	now := k.opts.Now()
	signed, err := SignWith(ring.SigningKeyAt(now), claims, now, settings.ttl)
	if err == nil {
		k.metrics.RecordIssued(signed.KeyVersion)
	}
	return signed, err
}

// Verify verifies a token by the contract, counts it in the metrics, and counts its subject as active.
func (k *Kit) Verify(token string, opts ...VerifyOptions) Verification {
	started := time.Now()
	now := k.opts.Now()
	var o VerifyOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	v := VerifyToken(k.Keys(), token, now, o)
	k.metrics.RecordValidation(v.KeyVersion, v.Result, time.Since(started))
	if v.Valid() {
		sub, _ := v.Claims["sub"].(string)
		exp, _ := v.Claims["exp"].(float64)
		if sub != "" {
			k.sessions.Touch(sub, time.Unix(int64(exp), 0), now)
		}
	}
	return v
}

// Metrics lets a service count validations it decides itself (an injected failure, a token it refused).
func (k *Kit) Metrics() *Metrics { return k.metrics }

// TouchSession counts a subject as active until expiresAt, e.g. at a login.
func (k *Kit) TouchSession(subject string, expiresAt time.Time) {
	k.sessions.Touch(subject, expiresAt, k.opts.Now())
}

// Reload re-reads the Secret and the JWKS now (the URL too) and switches to them if they are complete and
// valid; otherwise it keeps the last good keys and says "kept".
func (k *Kit) Reload(ctx context.Context) string { return k.reload(ctx, true) }

// Close stops the reload timer.
func (k *Kit) Close() {
	if k.stop != nil {
		k.stop()
		<-k.done
	}
}

func (k *Kit) reload(ctx context.Context, force bool) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := func() error {
		jwks := k.jwks
		if k.opts.JWKSURL == "" || force || time.Since(k.fetched) >= k.jwksRefresh() {
			fresh, err := k.readJWKS(ctx)
			if err != nil {
				return err
			}
			jwks, k.fetched = fresh, time.Now()
		}
		vars, err := k.readVars(ctx)
		if err != nil {
			return err
		}
		if digestOf(vars, jwks) == k.digest {
			return errUnchanged
		}
		return k.load(vars, jwks, false)
	}()
	switch {
	case errors.Is(err, errUnchanged):
		return ReloadUnchanged
	case err != nil:
		// Once per distinct problem: a file being rewritten can fail for several polls in a row.
		if err.Error() != k.problem {
			k.opts.Logger.Error("keys not reloaded; keeping the previous ones", "problem", err.Error())
		}
		k.problem = err.Error()
		return ReloadKept
	}
	k.problem = ""
	k.announce("keys reloaded")
	return ReloadApplied
}

var errUnchanged = errors.New("unchanged")

func (k *Kit) jwksRefresh() time.Duration {
	if k.opts.JWKSRefresh > 0 {
		return k.opts.JWKSRefresh
	}
	return 30 * time.Second
}

// load parses and self-tests, so the kit only ever switches to keys that sign and verify.
func (k *Kit) load(vars map[string]string, jwks *string, strict bool) error {
	ring, err := ParseKeyRing(vars, ParseOptions{Algorithm: k.opts.Algorithm, JWKS: jwks})
	if err != nil {
		return err
	}
	if err := selfTest(ring, k.opts.Now(), strict); err != nil {
		return err
	}
	k.ring.Store(ring)
	k.digest, k.jwks = digestOf(vars, jwks), jwks
	return nil
}

func (k *Kit) startTimer() {
	interval := k.opts.ReloadInterval
	if interval == 0 {
		interval = time.Second
	}
	polled := k.opts.SecretDir != "" || k.opts.Read != nil || k.opts.JWKSFile != "" || k.opts.JWKSURL != ""
	if interval < 0 || !polled {
		close(k.done)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	k.stop = stop
	go func() {
		defer close(k.done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				k.reload(ctx, false)
			}
		}
	}()
}

func (k *Kit) announce(msg string) {
	ring := k.Keys()
	k.opts.Logger.Info(msg, ring.Describe()...)
	for _, w := range ring.Warnings {
		k.opts.Logger.Warn(w)
	}
}

func (k *Kit) readVars(ctx context.Context) (map[string]string, error) {
	var vars map[string]string
	var err error
	switch {
	case k.opts.Read != nil:
		vars, err = k.opts.Read(ctx)
	case k.opts.SecretDir != "":
		vars, err = ReadSecretDir(k.opts.SecretDir)
	case k.opts.Env != nil:
		vars = k.opts.Env
	default:
		vars = environment()
	}
	if err != nil {
		return nil, err
	}
	picked := map[string]string{}
	for _, name := range VarNames {
		if v, ok := vars[name]; ok {
			picked[name] = v
		}
	}
	return picked, nil
}

func (k *Kit) readJWKS(ctx context.Context) (*string, error) {
	switch {
	case k.opts.JWKSFile != "":
		raw, err := os.ReadFile(k.opts.JWKSFile)
		if err != nil {
			return nil, err
		}
		text := string(raw)
		return &text, nil
	case k.opts.JWKSURL != "":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.opts.JWKSURL, nil)
		if err != nil {
			return nil, err
		}
		res, err := k.opts.HTTPClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("JWKS URL answered %d", res.StatusCode)
		}
		raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		text := string(raw)
		return &text, nil
	}
	return nil, nil
}

// ReadSecretDir reads one file per Secret key, as kubelet mounts it (through the mount directory, whose
// ..data symlink kubelet swaps, so a read sees one version). Contents are used as they are.
func ReadSecretDir(dir string) (map[string]string, error) {
	vars := map[string]string{}
	for _, name := range VarNames {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		vars[name] = string(raw)
	}
	return vars, nil
}

func environment() map[string]string {
	vars := map[string]string{}
	for _, entry := range os.Environ() {
		if name, value, ok := strings.Cut(entry, "="); ok {
			vars[name] = value
		}
	}
	return vars
}

// digestOf compares versions without keeping a second copy of the keys around.
func digestOf(vars map[string]string, jwks *string) string {
	raw, _ := json.Marshal([]any{vars, jwks})
	sum := sha256.Sum256(raw)
	return string(sum[:])
}
