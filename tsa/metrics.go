package tsa

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the TSA's Prometheus series. The clock series are computed from Clock.State at
// scrape time, so the request path only touches two counters and a histogram.
type metrics struct {
	issued     prometheus.Counter
	refused    [SystemFailure + 1]prometheus.Counter // indexed by FailInfo
	refusedVec *prometheus.CounterVec
	signing    prometheus.Histogram
	clock      *clockCollector
}

func newMetrics(clock Clock) *metrics {
	m := &metrics{
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_tsa_tokens_issued_total",
			Help: "Time-stamp tokens issued.",
		}),
		signing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paraphe_tsa_signing_seconds",
			Help:    "Time to encode and sign one token.",
			Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 250e-3},
		}),
		clock: &clockCollector{
			clock: clock,
			trusted: prometheus.NewDesc("paraphe_tsa_clock_trusted",
				"1 when the TSA clock is trusted and tokens are issued, 0 when requests are refused with timeNotAvailable.", nil, nil),
			offset: prometheus.NewDesc("paraphe_tsa_clock_offset_seconds",
				"Local clock minus NTP reference time, as last measured and corrected for steps since.", nil, nil),
			uncertainty: prometheus.NewDesc("paraphe_tsa_clock_uncertainty_seconds",
				"Error bound of the clock offset measurement.", nil, nil),
			untrusted: prometheus.NewDesc("paraphe_tsa_clock_untrusted",
				"1 for the cause that currently keeps the TSA clock untrusted.", []string{"cause"}, nil),
		},
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paraphe_tsa_requests_refused_total",
		Help: "Requests answered with a rejection, by PKIFailureInfo.",
	}, []string{"reason"})
	for _, f := range failInfos {
		m.refused[f] = refused.WithLabelValues(f.String())
	}
	m.refusedVec = refused
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.issued, m.refusedVec, m.signing, m.clock} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) {
	if r == nil {
		return
	}
	for _, c := range []prometheus.Collector{m.issued, m.refusedVec, m.signing, m.clock} {
		r.Unregister(c)
	}
}

// clockCollector reports the clock's state at scrape time.
type clockCollector struct {
	clock                                   Clock
	trusted, offset, uncertainty, untrusted *prometheus.Desc
}

var clockCauses = [...]string{CauseStarting, CauseNTPUnreachable, CauseNTPOffset, CauseClockStep}

func (c *clockCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.trusted
	ch <- c.offset
	ch <- c.uncertainty
	ch <- c.untrusted
}

func (c *clockCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.clock.State()
	trusted := 0.0
	if s.Trusted {
		trusted = 1
	}
	ch <- prometheus.MustNewConstMetric(c.trusted, prometheus.GaugeValue, trusted)
	ch <- prometheus.MustNewConstMetric(c.offset, prometheus.GaugeValue, s.Offset.Seconds())
	ch <- prometheus.MustNewConstMetric(c.uncertainty, prometheus.GaugeValue, s.Uncertainty.Seconds())
	for _, cause := range clockCauses {
		v := 0.0
		if !s.Trusted && s.Cause == cause {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.untrusted, prometheus.GaugeValue, v, cause)
	}
}
