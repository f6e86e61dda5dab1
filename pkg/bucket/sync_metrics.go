package bucket

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Values of the reason label of cinder_bucket_block_load_failures_total: the
// file whose reading or checking failed.
const (
	reasonMeta   = "meta"
	reasonMarker = "marker"
	reasonIndex  = "index"
)

type syncMetrics struct {
	blocksLoaded   *prometheus.GaugeVec
	indexBytes     *prometheus.GaugeVec
	corruptBlocks  *prometheus.GaugeVec
	loadFailures   *prometheus.CounterVec
	syncs          prometheus.Counter
	syncFailures   prometheus.Counter
	syncDuration   prometheus.Histogram
	lastSuccessful prometheus.Gauge
}

func newSyncMetrics(reg prometheus.Registerer) *syncMetrics {
	f := promauto.With(reg)
	m := &syncMetrics{
		blocksLoaded: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cinder_bucket_blocks_loaded",
			Help: "Number of blocks loaded and served, per tenant.",
		}, []string{"tenant"}),
		indexBytes: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cinder_bucket_index_bytes",
			Help: "Bytes of index.tsdb held in memory for the loaded blocks, per tenant.",
		}, []string{"tenant"}),
		corruptBlocks: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cinder_bucket_corrupt_blocks",
			Help: "Number of blocks skipped by the last sync because they could not be loaded, per tenant.",
		}, []string{"tenant"}),
		loadFailures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "cinder_bucket_block_load_failures_total",
			Help: "Number of failed attempts to load a block, by the file that failed (meta, marker, index).",
		}, []string{"reason"}),
		syncs: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_bucket_syncs_total",
			Help: "Number of bucket syncs attempted.",
		}),
		syncFailures: f.NewCounter(prometheus.CounterOpts{
			Name: "cinder_bucket_sync_failures_total",
			Help: "Number of bucket syncs that failed as a whole; the previous view was kept.",
		}),
		syncDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "cinder_bucket_sync_duration_seconds",
			Help:    "Duration of bucket syncs, failed ones included.",
			Buckets: []float64{0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600},
		}),
		lastSuccessful: f.NewGauge(prometheus.GaugeOpts{
			Name: "cinder_bucket_last_successful_sync_timestamp_seconds",
			Help: "Unix time at which the last successful bucket sync finished.",
		}),
	}
	for _, r := range []string{reasonMeta, reasonMarker, reasonIndex} {
		m.loadFailures.WithLabelValues(r)
	}
	return m
}
