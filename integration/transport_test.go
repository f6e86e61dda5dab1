package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/proto/querier/v1/querierv1connect"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// TestTransport checks what a client sees of the server besides answers:
// every protocol of the one port, and the operational endpoints.
func TestTransport(t *testing.T) {
	root := sharedTestdata(t)
	s := startServer(t, filepath.Join(root, "blocks", "fixtures"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &typesv1.LabelValuesRequest{Name: "service_name", Start: 1, End: 1700000000000}
	want := []string{"pyroscope", "simple.golang.app"}

	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect-proto-gzip", []connect.ClientOption{connect.WithSendGzip()}},
		{"connect-json", []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web-json", []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := querierv1connect.NewQuerierServiceClient(http.DefaultClient, s.URL, tc.opts...)
			resp, err := client.LabelValues(ctx, connect.NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resp.Msg.Names, want) {
				t.Errorf("got %v, want %v", resp.Msg.Names, want)
			}
		})
	}

	t.Run("gzip response", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPost, s.URL+"/querier.v1.QuerierService/LabelNames", strings.NewReader(`{"start":1,"end":1700000000000}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("got %d with Content-Encoding %q, want 200 gzip", resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
	})

	for _, tc := range []struct {
		name, method, path, contentType string
		wantStatus                      int
		wantBody                        string
	}{
		{"ready", http.MethodGet, "/ready", "", 200, "ready"},
		{"metrics", http.MethodGet, "/metrics", "", 200, "cinder_request_duration_seconds"},
		{"metrics has bucket sync", http.MethodGet, "/metrics", "", 200, "cinder_bucket_blocks_loaded"},
		{"metrics has Go runtime", http.MethodGet, "/metrics", "", 200, "go_goroutines"},
		{"pprof", http.MethodGet, "/debug/pprof/", "", 200, "goroutine"},
		{"GET on an RPC", http.MethodGet, "/querier.v1.QuerierService/LabelNames", "", 405, ""},
		{"unsupported content type", http.MethodPost, "/querier.v1.QuerierService/LabelNames", "text/plain", 415, ""},
		{"empty JSON body", http.MethodPost, "/querier.v1.QuerierService/LabelNames", "application/json", 400, "invalid_argument"},
		{"empty proto body", http.MethodPost, "/querier.v1.QuerierService/LabelNames", "application/proto", 200, ""},
		{"unknown method", http.MethodPost, "/querier.v1.QuerierService/NoSuchMethod", "application/json", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, s.URL+tc.path, nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			st, _, body := httpDo(t, r)
			if st != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("got %d %.200q, want %d containing %q", st, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}
