package querier

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type requestMetrics struct {
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	f := promauto.With(reg)
	return &requestMetrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:                        "cinder_request_duration_seconds",
			Help:                        "Time spent answering QuerierService requests, by procedure and status code.",
			Buckets:                     prometheus.ExponentialBuckets(0.0005, 4, 10),
			NativeHistogramBucketFactor: 1.1,
		}, []string{"procedure", "code"}),
		inflight: f.NewGauge(prometheus.GaugeOpts{
			Name: "cinder_requests_inflight",
			Help: "QuerierService requests being answered.",
		}),
	}
}

func (m *requestMetrics) interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			m.inflight.Inc()
			defer m.inflight.Dec()
			start := time.Now()
			resp, err := next(ctx, req)
			code := "ok"
			if err != nil {
				code = connect.CodeUnknown.String()
				var ce *connect.Error
				if errors.As(err, &ce) {
					code = ce.Code().String()
				}
			}
			m.duration.WithLabelValues(req.Spec().Procedure, code).Observe(time.Since(start).Seconds())
			return resp, err
		}
	}
}
