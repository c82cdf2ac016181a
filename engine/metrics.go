package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pmsync/pmsync"
)

// Metrics are the engine's Prometheus instruments.
type Metrics struct {
	runs     *prometheus.CounterVec
	records  *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lastOK   *prometheus.GaugeVec
	pushes   *prometheus.CounterVec
	// quarantined is the number of records of each source waiting in
	// quarantine, set after each of its sync runs.
	quarantined *prometheus.GaugeVec
	// A source's circuit breaker: failed syncs in a row, whether the
	// schedule is leaving it alone, and until when.
	failures  *prometheus.GaugeVec
	backedOff *prometheus.GaugeVec
	retryAt   *prometheus.GaugeVec
	pruned    *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pmsync_sync_runs_total", Help: "Sync runs by source and outcome.",
		}, []string{"source", "status"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pmsync_sync_records_total", Help: "Records pulled, by source and what became of them.",
		}, []string{"source", "result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pmsync_sync_requests_total", Help: "HTTP requests sent to vendors by sync runs.",
		}, []string{"source"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pmsync_sync_duration_seconds", Help: "Wall time of sync runs.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}, []string{"source"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pmsync_sync_last_success_timestamp_seconds", Help: "When each source last synced successfully.",
		}, []string{"source"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pmsync_pushes_total", Help: "Rollup deliveries by target and outcome.",
		}, []string{"target", "status"}),
		quarantined: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pmsync_quarantined_records", Help: "Records of each source that failed to map and wait in quarantine.",
		}, []string{"source"}),
		failures: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pmsync_source_consecutive_failures", Help: "Failed syncs in a row of each source (0 after a success).",
		}, []string{"source"}),
		backedOff: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pmsync_source_backed_off", Help: "1 while a source's circuit breaker is open (the schedule leaves it alone), else 0.",
		}, []string{"source"}),
		retryAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pmsync_source_retry_timestamp_seconds", Help: "When a backed-off source is tried again (0 while its breaker is closed).",
		}, []string{"source"}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pmsync_pruned_rows_total", Help: "History rows removed by the retention policy, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.runs, m.records, m.requests, m.duration, m.lastOK, m.pushes, m.quarantined, m.failures, m.backedOff, m.retryAt, m.pruned)
	return m
}

func (m *Metrics) observeRun(r SourceResult) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(r.Source, r.Status).Inc()
	m.records.WithLabelValues(r.Source, "seen").Add(float64(r.Seen))
	m.records.WithLabelValues(r.Source, "changed").Add(float64(r.Changed))
	m.records.WithLabelValues(r.Source, "quarantined").Add(float64(r.Quarantined))
	m.records.WithLabelValues(r.Source, "deleted").Add(float64(r.Deleted))
	m.requests.WithLabelValues(r.Source).Add(float64(r.Requests))
	m.duration.WithLabelValues(r.Source).Observe(r.Duration.Seconds())
	if r.Status == "ok" {
		m.lastOK.WithLabelValues(r.Source).SetToCurrentTime()
	}
}

func (m *Metrics) observePush(r PushResult) {
	if m == nil {
		return
	}
	m.pushes.WithLabelValues(r.Target, r.Status).Inc()
}

func (m *Metrics) setQuarantined(source string, n int) {
	if m == nil {
		return
	}
	m.quarantined.WithLabelValues(source).Set(float64(n))
}

func (m *Metrics) observeBreaker(source string, b breaker, now time.Time) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(source).Set(float64(b.Failures))
	open, retry := 0.0, 0.0
	if b.state(now) == pmsync.BreakerOpen {
		open = 1
	}
	if !b.RetryAt.IsZero() {
		retry = float64(b.RetryAt.Unix())
	}
	m.backedOff.WithLabelValues(source).Set(open)
	m.retryAt.WithLabelValues(source).Set(retry)
}

func (m *Metrics) observePrune(p Pruned) {
	if m == nil {
		return
	}
	for kind, n := range map[string]int{"sync_runs": p.SyncRuns, "item_changes": p.ItemChanges, "snapshots": p.Snapshots,
		"outbox": p.Outbox, "deleted_items": p.DeletedItems, "audit": p.Audit} {
		m.pruned.WithLabelValues(kind).Add(float64(n))
	}
}
