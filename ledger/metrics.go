package ledger

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the ledger's Prometheus metrics, registered on Options.Registerer when set.
type metrics struct {
	appends        *prometheus.CounterVec
	appendSeconds  prometheus.Histogram
	receiptSeconds prometheus.Histogram
	queueWrites    prometheus.Counter
	queueBatch     prometheus.Histogram
	sequenced      prometheus.Counter
	passSeconds    prometheus.Histogram
	treeSize       prometheus.Gauge
	checkpointSize prometheus.Gauge
	checkpoints    prometheus.Counter
	errors         *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paraphe_ledger_appends_total", Help: "Append calls, by result (ok, invalid, error).",
		}, []string{"result"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paraphe_ledger_append_seconds", Help: "Time from Append to the durable queueing of its leaf.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		receiptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paraphe_ledger_receipt_seconds", Help: "Time from Append to a published checkpoint covering its leaf (receipt ready).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		queueWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_ledger_queue_writes_total", Help: "Durable queue writes (QueueLeaves calls), each shared by a group of Append calls.",
		}),
		queueBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paraphe_ledger_queue_batch_leaves", Help: "Leaves per durable queue write.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		sequenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_ledger_sequenced_leaves_total", Help: "Leaves integrated into the tree.",
		}),
		passSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paraphe_ledger_sequencer_pass_seconds", Help: "Duration of one sequencer pass (IntegrateBatch).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		treeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paraphe_ledger_tree_size", Help: "Number of leaves integrated into the tree.",
		}),
		checkpointSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paraphe_ledger_checkpoint_size", Help: "Tree size of the latest published checkpoint.",
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_ledger_checkpoints_total", Help: "Checkpoints published.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paraphe_ledger_errors_total", Help: "Internal errors, by stage (queue, sequence, checkpoint).",
		}, []string{"stage"}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.appends, m.appendSeconds, m.receiptSeconds, m.queueWrites, m.queueBatch, m.sequenced,
		m.passSeconds, m.treeSize, m.checkpointSize, m.checkpoints, m.errors} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("ledger: registering metrics: %w", err)
		}
	}
	return m, nil
}
