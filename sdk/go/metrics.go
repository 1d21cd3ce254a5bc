package consumerkit

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ValidationDurationBuckets include the gate's latency threshold (0.05 s) as a bound, so the p99 is not
// interpolated across it.
var ValidationDurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Metrics are the series of docs/metrics-contract.md.
type Metrics struct {
	validations *prometheus.CounterVec
	duration    prometheus.Histogram
	issued      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, sessions *Sessions, now func() time.Time) (*Metrics, error) {
	m := &Metrics{
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_validations_total",
			Help: "JWT validations by the key version that verified the token (none: no key did) and by result.",
		}, []string{"key_version", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jwt_validation_duration_seconds",
			Help:    "Time to validate one JWT, in seconds.",
			Buckets: ValidationDurationBuckets,
		}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_tokens_issued_total",
			Help: "JWTs signed, by the key version that signed them.",
		}, []string{"key_version"}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jwt_active_sessions",
		Help: "Distinct token subjects seen valid in the session window, with an unexpired token.",
	}, func() float64 { return float64(sessions.Count(now())) })
	for _, c := range []prometheus.Collector{m.validations, m.duration, m.issued, active} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every series from the start: a ratio over a series that does not exist yet is empty, and rate() needs
	// a zero before the first increment to count it.
	for _, version := range []string{VersionCurrent, VersionNew} {
		for _, result := range []string{ResultSuccess, ResultRejected} {
			m.validations.WithLabelValues(version, result).Add(0)
		}
		m.issued.WithLabelValues(version).Add(0)
	}
	for _, result := range []string{ResultRejected, ResultError} {
		m.validations.WithLabelValues(VersionNone, result).Add(0)
	}
	return m, nil
}

// RecordValidation counts one validation and its duration.
func (m *Metrics) RecordValidation(keyVersion, result string, d time.Duration) {
	m.validations.WithLabelValues(keyVersion, result).Inc()
	m.duration.Observe(d.Seconds())
}

// RecordIssued counts one signed token.
func (m *Metrics) RecordIssued(keyVersion string) {
	m.issued.WithLabelValues(keyVersion).Inc()
}
