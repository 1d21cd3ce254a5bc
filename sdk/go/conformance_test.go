package consumerkit_test

// The shared conformance suite (../conformance/cases.json) against the Go kit: every case, step by step,
// through the kit's public API, with the clock injected. Format: ../conformance/README.md.
//
//	go test ./...        (from sdk/go)

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	dto "github.com/prometheus/client_model/go"

	consumerkit "github.com/jwt-rotation-operator/jwt-rotation-operator/sdk/go"
)

type expectation struct {
	Result     string `json:"result"`
	KeyVersion string `json:"keyVersion"`
	Reason     string `json:"reason"`
	Key        string `json:"key"`
	Alg        string `json:"alg"`
	TTLSeconds int64  `json:"ttlSeconds"`
	Error      bool   `json:"error"`
}

type step struct {
	Now     string            `json:"now"`
	Secret  map[string]string `json:"secret"`
	JWKS    json.RawMessage   `json:"jwks"`
	Load    string            `json:"load"`
	Reload  string            `json:"reload"`
	Warning string            `json:"warning"`
	Sign    []struct {
		Claims map[string]any `json:"claims"`
		Expect expectation    `json:"expect"`
	} `json:"sign"`
	Verify []struct {
		Token   string            `json:"token"`
		Require map[string]string `json:"require"`
		Expect  expectation       `json:"expect"`
	} `json:"verify"`
	Metrics map[string]float64 `json:"metrics"`
}

type testCase struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	JWKSSource string `json:"jwksSource"`
	Algorithm  string `json:"algorithm"`
	Steps      []step `json:"steps"`
}

type suite struct {
	Metrics struct {
		Initial []string  `json:"initial"`
		Buckets []float64 `json:"buckets"`
	} `json:"metrics"`
	Cases []testCase `json:"cases"`
}

type fixtures struct {
	Keys map[string]struct {
		Alg        string `json:"alg"`
		Kid        string `json:"kid"`
		Secret     string `json:"secret"`
		PrivateKey string `json:"privateKey"`
		PublicKey  string `json:"publicKey"`
	} `json:"keys"`
	JWKS   map[string]string `json:"jwks"`
	Tokens map[string]struct {
		JWT string `json:"jwt"`
	} `json:"tokens"`
}

var (
	cases suite
	fix   fixtures
)

func TestMain(m *testing.M) {
	for path, into := range map[string]any{"../conformance/cases.json": &cases, "../conformance/fixtures.json": &fix} {
		raw, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(raw, into)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	if len(cases.Cases) == 0 {
		t.Fatal("no conformance cases")
	}
	for _, c := range cases.Cases {
		t.Run(c.Name, func(t *testing.T) { runCase(t, c) })
	}
}

// world is one case's surroundings: the mounted Secret directory, the JWKS file or URL, the clock.
type world struct {
	c      testCase
	dir    string
	mu     sync.Mutex
	now    time.Time
	secret map[string]string
	jwks   *string
	server *httptest.Server
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) apply(t *testing.T, s step) {
	now, err := time.Parse(time.RFC3339, s.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.now = now
	w.mu.Unlock()
	if s.Secret != nil {
		w.secret = map[string]string{}
		for name, value := range s.Secret {
			if ref, ok := strings.CutPrefix(value, "key:"); ok {
				key := fix.Keys[ref]
				value = key.Secret + key.PrivateKey
			}
			w.secret[name] = value
		}
		if w.c.Source == "dir" {
			secretDir := filepath.Join(w.dir, "secret")
			must(t, os.RemoveAll(secretDir))
			must(t, os.Mkdir(secretDir, 0o700))
			for name, value := range w.secret {
				must(t, os.WriteFile(filepath.Join(secretDir, name), []byte(value), 0o600))
			}
		}
	}
	if s.JWKS != nil {
		var name *string
		must(t, json.Unmarshal(s.JWKS, &name))
		w.jwks = nil
		if name != nil {
			text := fix.JWKS[*name]
			w.jwks = &text
			must(t, os.WriteFile(filepath.Join(w.dir, "jwks.json"), []byte(text), 0o600))
		}
		if w.c.JWKSSource == "url" && w.server == nil {
			w.server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
				w.mu.Lock()
				defer w.mu.Unlock()
				if w.jwks != nil {
					_, _ = rw.Write([]byte(*w.jwks))
				}
			}))
		}
	}
}

func (w *world) options() consumerkit.Options {
	opts := consumerkit.Options{Now: w.clock, ReloadInterval: -1, Algorithm: w.c.Algorithm, Logger: quiet}
	if w.c.Source == "dir" {
		opts.SecretDir = filepath.Join(w.dir, "secret")
	} else {
		opts.Env = w.secret
	}
	if w.jwks != nil {
		if w.c.JWKSSource == "url" {
			opts.JWKSURL = w.server.URL + "/jwks.json"
		} else {
			opts.JWKSFile = filepath.Join(w.dir, "jwks.json")
		}
	}
	return opts
}

func runCase(t *testing.T, c testCase) {
	w := &world{c: c, dir: t.TempDir()}
	defer func() {
		if w.server != nil {
			w.server.Close()
		}
	}()
	var kit *consumerkit.Kit
	defer func() {
		if kit != nil {
			kit.Close()
		}
	}()
	for i, s := range c.Steps {
		t.Logf("step %d at %s", i+1, s.Now)
		w.apply(t, s)
		kit = openOrReload(t, w, kit, s)
		if kit == nil {
			continue
		}
		if s.Warning != "" && !strings.Contains(strings.Join(kit.Keys().Warnings, "\n"), s.Warning) {
			t.Fatalf("step %d: no warning mentions %s: %q", i+1, s.Warning, kit.Keys().Warnings)
		}
		for _, op := range s.Sign {
			checkSign(t, kit, w.clock(), op.Claims, op.Expect)
		}
		for _, op := range s.Verify {
			checkVerify(t, kit, op.Token, op.Require, op.Expect)
		}
		series := readMetrics(t, kit)
		for name, want := range s.Metrics {
			if got := series[name]; got != want {
				t.Fatalf("step %d: %s = %v, want %v", i+1, name, got, want)
			}
		}
	}
}

// openOrReload opens the kit (first step, or a restart: a new Secret read from the environment) or reloads.
func openOrReload(t *testing.T, w *world, kit *consumerkit.Kit, s step) *consumerkit.Kit {
	restart := kit == nil || (w.c.Source != "dir" && s.Secret != nil)
	if !restart {
		if s.Secret != nil || s.JWKS != nil {
			want := s.Reload
			if want == "" {
				want = consumerkit.ReloadApplied
			}
			if got := kit.Reload(context.Background()); got != want {
				t.Fatalf("reload: %s, want %s", got, want)
			}
		}
		return kit
	}
	if kit != nil {
		kit.Close()
	}
	opened, err := consumerkit.Open(context.Background(), w.options())
	if s.Load == "error" {
		if err == nil {
			opened.Close()
			t.Fatal("the kit must refuse to start")
		}
		return nil
	}
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	series := readMetrics(t, opened)
	for _, name := range cases.Metrics.Initial {
		if v, ok := series[name]; !ok || v != 0 {
			t.Fatalf("initial %s: %v (present %v)", name, v, ok)
		}
	}
	for _, le := range cases.Metrics.Buckets {
		name := fmt.Sprintf(`jwt_validation_duration_seconds_bucket{le="%s"}`, strconv.FormatFloat(le, 'g', -1, 64))
		if _, ok := series[name]; !ok {
			t.Fatalf("no bucket %s", name)
		}
	}
	return opened
}

func checkSign(t *testing.T, kit *consumerkit.Kit, now time.Time, claims map[string]any, e expectation) {
	t.Helper()
	if e.Error {
		if _, err := kit.Sign(claims); err == nil {
			t.Fatal("sign must fail")
		}
		return
	}
	key := fix.Keys[e.Key]
	alg := e.Alg
	if alg == "" {
		alg = key.Alg
	}
	issued := fmt.Sprintf(`jwt_tokens_issued_total{key_version="%s"}`, e.KeyVersion)
	before := readMetrics(t, kit)[issued]
	signed, err := kit.Sign(claims)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if signed.Kid != key.Kid || signed.KeyVersion != e.KeyVersion {
		t.Fatalf("signed with %s (%s), want %s (%s)", signed.Kid, signed.KeyVersion, key.Kid, e.KeyVersion)
	}
	var header map[string]any
	part, _ := base64.RawURLEncoding.DecodeString(strings.Split(signed.Token, ".")[0])
	must(t, json.Unmarshal(part, &header))
	if fmt.Sprint(header) != fmt.Sprint(map[string]any{"alg": alg, "kid": key.Kid, "typ": "JWT"}) {
		t.Fatalf("header %v", header)
	}
	// Checked without the kit: the fixture key itself must verify the signature.
	parsed, err := jwt.Parse(signed.Token, func(*jwt.Token) (any, error) { return material(t, key.Secret, key.PublicKey), nil },
		jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("the fixture key does not verify the signed token: %v", err)
	}
	got := parsed.Claims.(jwt.MapClaims)
	iat := float64(now.Unix())
	if got["iat"] != iat || got["exp"] != iat+float64(e.TTLSeconds) || got["sub"] != claims["sub"] {
		t.Fatalf("claims %v: want iat %v, exp iat+%d, sub %v", got, iat, e.TTLSeconds, claims["sub"])
	}
	if after := readMetrics(t, kit)[issued]; after != before+1 {
		t.Fatalf("%s went from %v to %v", issued, before, after)
	}
}

func checkVerify(t *testing.T, kit *consumerkit.Kit, name string, require map[string]string, e expectation) {
	t.Helper()
	token, literal := strings.CutPrefix(name, "=")
	if !literal {
		token = fix.Tokens[name].JWT
	}
	series := fmt.Sprintf(`jwt_validations_total{key_version="%s",result="%s"}`, e.KeyVersion, e.Result)
	before := readMetrics(t, kit)
	v := kit.Verify(token, consumerkit.VerifyOptions{Require: require})
	if v.Result != e.Result || v.KeyVersion != e.KeyVersion || (e.Reason != "" && v.Reason != e.Reason) {
		t.Fatalf("%s: got %s/%s/%s, want %s/%s/%s", name, v.Result, v.KeyVersion, v.Reason, e.Result, e.KeyVersion, e.Reason)
	}
	if e.Key != "" && v.Kid != fix.Keys[e.Key].Kid {
		t.Fatalf("%s: verified by %s, want %s", name, v.Kid, e.Key)
	}
	after := readMetrics(t, kit)
	if after[series] != before[series]+1 {
		t.Fatalf("%s went from %v to %v", series, before[series], after[series])
	}
	count := "jwt_validation_duration_seconds_count"
	if after[count] != before[count]+1 {
		t.Fatalf("%s went from %v to %v", count, before[count], after[count])
	}
}

func material(t *testing.T, secret, publicPEM string) any {
	if secret != "" {
		return []byte(secret)
	}
	block, _ := pem.Decode([]byte(publicPEM))
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	must(t, err)
	return key
}

// readMetrics flattens the kit's registry as series → value, named as in the text exposition format.
func readMetrics(t *testing.T, kit *consumerkit.Kit) map[string]float64 {
	families, err := kit.Gatherer().Gather()
	must(t, err)
	series := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName() + labels(m.GetLabel())
			switch {
			case m.Counter != nil:
				series[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				series[name] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				series[f.GetName()+"_count"] = float64(m.GetHistogram().GetSampleCount())
				for _, b := range m.GetHistogram().GetBucket() {
					le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
					series[fmt.Sprintf(`%s_bucket{le="%s"}`, f.GetName(), le)] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return series
}

func labels(pairs []*dto.LabelPair) string {
	if len(pairs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(pairs))
	for _, p := range pairs {
		parts = append(parts, fmt.Sprintf("%s=%q", p.GetName(), p.GetValue()))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
