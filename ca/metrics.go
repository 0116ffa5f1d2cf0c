package ca

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	issued   *prometheus.CounterVec
	revoked  prometheus.Counter
	ocsp     *prometheus.CounterVec
	crlReqs  prometheus.Counter
	crlMade  prometheus.Counter
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paraphe_ca_certificates_issued_total", Help: "Certificates issued by the issuing CA, by kind (signer, server).",
		}, []string{"kind"}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_ca_certificates_revoked_total", Help: "Certificates revoked.",
		}),
		ocsp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paraphe_ca_ocsp_requests_total", Help: "OCSP requests answered, by result (good, revoked, unknown, malformed, unauthorized, error).",
		}, []string{"result"}),
		crlReqs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_ca_crl_requests_total", Help: "CRL downloads served.",
		}),
		crlMade: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paraphe_ca_crls_generated_total", Help: "CRLs signed (each with a new CRL number).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paraphe_ca_http_rejected_total", Help: "CA HTTP requests refused before any OCSP processing, by reason (too_large, media_type, bad_encoding).",
		}, []string{"reason"}),
	}
	for _, k := range []string{KindSigner, KindServer} {
		m.issued.WithLabelValues(k)
	}
	for _, r := range []string{resultGood, resultRevoked, resultUnknown, resultMalformed, resultUnauthorized, resultError} {
		m.ocsp.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.issued, m.revoked, m.ocsp, m.crlReqs, m.crlMade, m.rejected} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
