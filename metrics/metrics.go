// Package metrics holds what TaskFlow reports to Prometheus: one registry
// per server (never the library's global default, so two servers in one
// process, as in the tests, never share or collide), the HTTP middleware
// that counts requests by route template, and the counters the guard and
// the rate limits feed. Every label takes its values from a bounded set:
// route templates, methods, statuses, refusal reasons and limit names,
// never a raw path, an id or a user.
package metrics

import (
	"database/sql"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "taskflow"

// Metrics is one server's registry and the series the app updates.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	openStreams  prometheus.Gauge
	queued       prometheus.Gauge
	queueWait    prometheus.Counter
	reasons      map[string]bool // the reason label's values; see AuthFailureReasons
}

// Database is what the database collectors read at scrape time: the pool's
// statistics, and a ping with its own short deadline.
type Database struct {
	Pool *sql.DB
	Ping func() error
}

// New registers TaskFlow's series, the database pool's (read from
// db.Pool.Stats() at each scrape) and the Go runtime's and process's.
func New(version string, db Database) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "auth_failures_total",
			Help: "Bearer tokens the guard refused, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_total",
			Help: "Requests refused with 429 by a rate limit, by limit.",
		}, []string{"limit"}),
		openStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "event_streams_open",
			Help: "Change-feed streams (GET /api/v1/events) open on this server.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "db_queue_waiting",
			Help: "Task lists waiting in their users' lines for one of the DB_MAX_OPEN_CONNS database connections.",
		}),
		queueWait: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "db_queue_wait_seconds_total",
			Help: "Time task lists spent in line for a database connection (go_sql_wait_duration_seconds_total counts the other requests' waits).",
		}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; its labels name the running build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(
		m.requests, m.duration, m.authFailures, m.rateLimited, m.openStreams, m.queued, m.queueWait, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if db.Pool != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db.Pool, namespace))
	}
	if db.Ping != nil {
		m.registry.MustRegister(newDatabaseUp(db.Ping))
	}
	return m
}

// Registry is where the series live; /metrics gathers from it.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// OtherReason is the reason label of a refusal whose reason was not
// declared with AuthFailureReasons.
const OtherReason = "other"

// AuthFailureReasons declares every reason the guard refuses a token for:
// each gets its series at zero now, so a rate() over them is defined (and
// an alert on it can fire) before the first refusal, and AuthFailed counts
// any other value as OtherReason, so no caller can grow the label set.
func (m *Metrics) AuthFailureReasons(reasons ...string) {
	m.reasons = make(map[string]bool, len(reasons)+1)
	for _, reason := range append(reasons, OtherReason) {
		m.reasons[reason] = true
		m.authFailures.WithLabelValues(reason)
	}
}

// AuthFailed counts a refused token.
func (m *Metrics) AuthFailed(reason string) {
	if !m.reasons[reason] {
		reason = OtherReason
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// RateLimited counts a request a rate limit refused. limit is the name
// the app gives the limit (register, login, token, search, user_share): a
// constant.
func (m *Metrics) RateLimited(limit string) {
	m.rateLimited.WithLabelValues(limit).Inc()
}

// OpenStreams sets the number of open change-feed streams.
func (m *Metrics) OpenStreams(open int) { m.openStreams.Set(float64(open)) }

// Queued moves the number of requests in line for a database connection
// (middleware.FairShare) by delta.
func (m *Metrics) Queued(delta int) { m.queued.Add(float64(delta)) }

// Waited counts time a request spent in that line.
func (m *Metrics) Waited(d time.Duration) { m.queueWait.Add(d.Seconds()) }
