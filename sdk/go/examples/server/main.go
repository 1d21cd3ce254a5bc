// Command server is the reference consumer's HTTP API (examples/consumer) on the Go consumer kit, so the
// same clients and session load drive a Go service:
//
//	POST /login    {"sub": "..."}            → access + refresh token, signed with the key the date selects
//	POST /refresh  {"refresh_token": "..."}  → a new pair (how clients move to the new key)
//	GET  /me       Authorization: Bearer ... → verified with any known key
//	GET  /metrics, GET /healthz
//
// Keys: the environment (envFrom the operator's Secret), or SECRET_DIR (a mounted Secret); JWKS_FILE or
// JWKS_URL for asymmetric keys. PORT (8080), HOST, RELOAD_INTERVAL_MS (1000), SESSION_WINDOW_SECONDS (300),
// SHUTDOWN_DELAY_SECONDS (3). Logs are JSON lines on stdout, with fingerprints only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	consumerkit "github.com/jwt-rotation-operator/jwt-rotation-operator/sdk/go"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	kit, err := consumerkit.Open(context.Background(), consumerkit.Options{
		SecretDir:      os.Getenv("SECRET_DIR"),
		JWKSFile:       os.Getenv("JWKS_FILE"),
		JWKSURL:        os.Getenv("JWKS_URL"),
		ReloadInterval: time.Duration(envInt("RELOAD_INTERVAL_MS", 1000)) * time.Millisecond,
		SessionWindow:  time.Duration(envInt("SESSION_WINDOW_SECONDS", 300)) * time.Second,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	defer kit.Close()
	if kit.Keys().Current == nil {
		return errors.New("no JWT_SECRET or JWT_PRIVATE_KEY is set")
	}
	s := &service{kit: kit, log: log}
	listener, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), envOr("PORT", "8080")))
	if err != nil {
		return err
	}
	server := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 65 * time.Second}
	log.Info("listening", "port", listener.Addr().(*net.TCPAddr).Port)

	// Graceful shutdown, as a rolling restart needs it: keep serving (failing /healthz, closing each
	// connection after its answer) while the endpoint is removed from the Services, then stop.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-stop
		delay := time.Duration(envInt("SHUTDOWN_DELAY_SECONDS", 3)) * time.Second
		log.Info("shutting down", "signal", sig.String(), "delayMs", delay.Milliseconds())
		s.draining.Store(true)
		server.SetKeepAlivesEnabled(false)
		time.Sleep(delay)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type service struct {
	kit      *consumerkit.Kit
	log      *slog.Logger
	draining atomic.Bool
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /refresh", s.refresh)
	mux.HandleFunc("GET /me", s.me)
	mux.Handle("GET /metrics", s.kit.MetricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			send(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
			return
		}
		send(w, http.StatusOK, map[string]any{"status": "ok", "mode": s.kit.Keys().Mode})
	})
	return mux
}

func (s *service) login(w http.ResponseWriter, r *http.Request) {
	body := readJSON(r)
	sub, _ := body["sub"].(string)
	if sub == "" {
		sub = "user-" + randomID()
	}
	s.sendPair(w, sub)
}

func (s *service) refresh(w http.ResponseWriter, r *http.Request) {
	token, _ := readJSON(r)["refresh_token"].(string)
	if token == "" {
		send(w, http.StatusBadRequest, map[string]any{"error": "missing refresh_token"})
		return
	}
	v := s.kit.Verify(token, consumerkit.VerifyOptions{Require: map[string]string{"token_use": "refresh"}})
	if !v.Valid() {
		sendFailure(w, v)
		return
	}
	sub, _ := v.Claims["sub"].(string)
	s.sendPair(w, sub)
}

var bearer = regexp.MustCompile(`(?i)^Bearer\s+(\S+)$`)

func (s *service) me(w http.ResponseWriter, r *http.Request) {
	m := bearer.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		// No token is not a validation: anonymous calls must not count against the auth success rate.
		send(w, http.StatusUnauthorized, map[string]any{"error": "missing bearer token"})
		return
	}
	v := s.kit.Verify(m[1], consumerkit.VerifyOptions{Require: map[string]string{"token_use": "access"}})
	if !v.Valid() {
		sendFailure(w, v)
		return
	}
	send(w, http.StatusOK, map[string]any{"sub": v.Claims["sub"], "kid": v.Kid, "key_version": v.KeyVersion})
}

// sendPair signs both tokens with one key, chosen once: a login's pair is on one side of the date.
func (s *service) sendPair(w http.ResponseWriter, sub string) {
	ring, now := s.kit.Keys(), time.Now()
	key := ring.SigningKeyAt(now)
	access, err := consumerkit.SignWith(key, claims(sub, "access"), now, ring.AccessTTL)
	if err == nil {
		var refresh consumerkit.Signed
		if refresh, err = consumerkit.SignWith(key, claims(sub, "refresh"), now, ring.RefreshTTL); err == nil {
			s.kit.Metrics().RecordIssued(key.Version)
			s.kit.Metrics().RecordIssued(key.Version)
			s.kit.TouchSession(sub, access.ExpiresAt)
			send(w, http.StatusOK, map[string]any{
				"access_token": access.Token, "refresh_token": refresh.Token, "token_type": "Bearer",
				"expires_in": int64(ring.AccessTTL.Seconds()), "kid": key.Kid, "key_version": key.Version,
			})
			return
		}
	}
	s.log.Error("signing failed", "error", err.Error())
	send(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
}

func claims(sub, use string) map[string]any {
	return map[string]any{"sub": sub, "jti": randomID(), "token_use": use}
}

func sendFailure(w http.ResponseWriter, v consumerkit.Verification) {
	if v.Result == consumerkit.ResultError {
		send(w, http.StatusInternalServerError, map[string]any{"error": "validation error"})
		return
	}
	send(w, http.StatusUnauthorized, map[string]any{"error": "invalid token", "reason": v.Reason})
}

func readJSON(r *http.Request) map[string]any {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 16*1024))
	body := map[string]any{}
	_ = json.Unmarshal(raw, &body)
	return body
}

func send(w http.ResponseWriter, status int, body any) {
	raw, _ := json.Marshal(body)
	w.Header().Set("content-type", "application/json")
	w.Header().Set("content-length", strconv.Itoa(len(raw)))
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return fallback
}
