package querier

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	"github.com/cinder-profiling/cinder/proto/querier/v1/querierv1connect"
)

// SelectMergeProfile served over each protocol answers the profile that
// the Go method gives, and every answer gives its builder back to the
// service once the codec has encoded it.
func TestServedMergeProfile(t *testing.T) {
	blocks := loadBlocks(t, "medium", DefaultTenant)
	svc := New(Config{MaxRequestBytes: 1 << 20}, staticBlocks{DefaultTenant: blocks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := &querierv1.SelectMergeProfileRequest{ProfileTypeID: cpuType, LabelSelector: `{service_name="ledger"}`, Start: mediumStart, End: mediumEnd}

	direct, err := svc.SelectMergeProfile(WithTenant(context.Background(), DefaultTenant), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeProfile(direct.Msg)
	if err != nil {
		t.Fatal(err)
	}
	want := flamegraph.CanonicalView(decoded)
	if len(want.Samples) == 0 {
		t.Fatal("the direct answer has no samples")
	}

	_, h := svc.Handler(prometheus.NewRegistry())
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	protocols := map[string][]connect.ClientOption{
		"connect proto": nil,
		"connect json":  {connect.WithProtoJSON()},
		"grpc":          {connect.WithGRPC()},
		"grpc-web":      {connect.WithGRPCWeb()},
	}
	for name, opts := range protocols {
		t.Run(name, func(t *testing.T) {
			client := querierv1connect.NewQuerierServiceClient(srv.Client(), srv.URL, opts...)
			resp, err := client.SelectMergeProfile(context.Background(), connect.NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			if got := flamegraph.CanonicalView(resp.Msg); !reflect.DeepEqual(got, want) {
				t.Errorf("served profile differs from the direct one: %d samples, want %d", len(got.Samples), len(want.Samples))
			}
			b, ok := svc.profiles.get()
			if !ok {
				t.Fatal("the answer's builder was not given back")
			}
			svc.profiles.put(b)
		})
	}
}

// A merged profile is encoded after what the buffer holds, once; a second
// encoding is refused rather than given from a builder already reused.
func TestMergedProfileEncodesOnce(t *testing.T) {
	pt := flamegraph.ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	b := flamegraph.NewProfileBuilder(pt, 0, 1000)
	want, err := b.AppendEncoded(nil)
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	m := &mergedProfile{b: b, release: func(got *flamegraph.ProfileBuilder) {
		if got != b {
			t.Errorf("released %p, want the answer's builder %p", got, b)
		}
		released++
	}}
	out, err := profileCodec{}.MarshalAppend([]byte("x"), m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, append([]byte("x"), want...)) {
		t.Errorf("encoded %x, want x then %x", out, want)
	}
	if released != 1 {
		t.Errorf("builder released %d times, want once", released)
	}
	if _, err := (profileCodec{}).MarshalAppend(nil, m); err == nil {
		t.Error("a merged profile was encoded twice")
	}
	if _, err := (profileJSONCodec{"json"}).Marshal(m); err == nil {
		t.Error("a merged profile was encoded twice, as JSON")
	}
	if released != 1 {
		t.Errorf("builder released %d times, want once", released)
	}
}
