package querier

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cinder-profiling/cinder/internal/repopath"
	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/flamegraph"
)

// staticBlocks is a BlockSource over blocks loaded once, per tenant.
type staticBlocks map[string][]*bucket.Block

func (s staticBlocks) Blocks(tenant string, start, end int64) []*bucket.Block {
	var out []*bucket.Block
	for _, b := range s[tenant] {
		if b.Meta.Overlaps(start, end) {
			out = append(out, b)
		}
	}
	return out
}

func fixtureBlocks(t *testing.T, tenant string) []*bucket.Block {
	t.Helper()
	return loadBlocks(t, "fixtures", tenant)
}

// loadBlocks opens every block of a dataset of the shared test data.
func loadBlocks(t testing.TB, dataset, tenant string) []*bucket.Block {
	t.Helper()
	td, err := repopath.SharedTestdata()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(td, "blocks", dataset, "anonymous", "phlaredb")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Skipf("shared test data not found (%v): these tests need ../shared/testdata beside the repository", err)
	}
	var blocks []*bucket.Block
	for _, e := range entries {
		metaBytes, err := os.ReadFile(filepath.Join(root, e.Name(), "meta.json"))
		if err != nil {
			t.Fatal(err)
		}
		meta, err := blockreader.ParseMeta(metaBytes)
		if err != nil {
			t.Fatal(err)
		}
		ixBytes, err := os.ReadFile(filepath.Join(root, e.Name(), "index.tsdb"))
		if err != nil {
			t.Fatal(err)
		}
		ix, err := blockreader.NewIndexReader(ixBytes)
		if err != nil {
			t.Fatal(err)
		}
		files := blockreader.DirFiles(filepath.Join(root, e.Name()))
		blocks = append(blocks, &bucket.Block{Meta: meta, Index: ix, Tenant: tenant, Files: files})
	}
	return blocks
}

type testServer struct {
	*httptest.Server
	t *testing.T
}

func newTestServer(t *testing.T, cfg Config, blocks BlockSource) *testServer {
	t.Helper()
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 1 << 20
	}
	svc := New(cfg, blocks, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.now = func() time.Time { return time.UnixMilli(1700000000000) }
	mux := http.NewServeMux()
	path, h := svc.Handler(prometheus.NewRegistry())
	mux.Handle(path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, t: t}
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

// post sends a Connect JSON request with the given extra headers.
func (s *testServer) post(method, body string, headers ...string) reply {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/querier.v1.QuerierService/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r reply) strings(field string) []string {
	var out []string
	vs, _ := r.body[field].([]any)
	for _, v := range vs {
		out = append(out, v.(string))
	}
	return out
}

const fullRange = `"start": 1, "end": 1700000000000`

func TestTenancy(t *testing.T) {
	blocks := staticBlocks{"team-a": fixtureBlocks(t, "team-a"), DefaultTenant: fixtureBlocks(t, DefaultTenant)}
	t.Run("off ignores the header", func(t *testing.T) {
		s := newTestServer(t, Config{}, blocks)
		for _, h := range []string{"", "team-b", "bad tenant", "../x"} {
			r := s.post("LabelValues", `{"name": "service_name", `+fullRange+`}`, OrgIDHeader, h)
			if r.status != 200 || !slices.Equal(r.strings("names"), []string{"pyroscope", "simple.golang.app"}) {
				t.Errorf("X-Scope-OrgID %q: got %d %s, want the anonymous tenant's values", h, r.status, r.raw)
			}
		}
	})
	t.Run("on", func(t *testing.T) {
		s := newTestServer(t, Config{MultitenancyEnabled: true}, blocks)
		for _, tc := range []struct {
			orgID      string
			wantStatus int
			wantCode   string
			wantNames  []string
		}{
			{"", 401, "unauthenticated", nil},
			{"team-a", 200, "", []string{"pyroscope", "simple.golang.app"}},
			{"team-b", 200, "", nil},
			{"bad tenant", 400, "invalid_argument", nil},
			{"..", 400, "invalid_argument", nil},
			{"a/b", 400, "invalid_argument", nil},
			{"team-a|team-b", 400, "invalid_argument", nil},
			{strings.Repeat("x", 151), 400, "invalid_argument", nil},
		} {
			r := s.post("LabelValues", `{"name": "service_name", `+fullRange+`}`, OrgIDHeader, tc.orgID)
			if r.status != tc.wantStatus || (tc.wantCode != "" && r.body["code"] != tc.wantCode) {
				t.Errorf("X-Scope-OrgID %q: got %d %s, want %d %s", tc.orgID, r.status, r.raw, tc.wantStatus, tc.wantCode)
				continue
			}
			if tc.wantCode != "" && r.body["message"] == "" {
				t.Errorf("X-Scope-OrgID %q: error without a message", tc.orgID)
			}
			if tc.wantStatus == 200 && !slices.Equal(r.strings("names"), tc.wantNames) {
				t.Errorf("X-Scope-OrgID %q: got names %v, want %v", tc.orgID, r.strings("names"), tc.wantNames)
			}
		}
		// The Pyroscope UI probes tenancy this way and needs exactly 401.
		if r := s.post("LabelNames", `{"matchers": []}`, OrgIDHeader, ""); r.status != 401 {
			t.Errorf("tenancy probe: got %d, want 401", r.status)
		}
	})
}

func TestBadInput(t *testing.T) {
	s := newTestServer(t, Config{MaxRequestBytes: 4096, MaxQueryLength: 24 * time.Hour}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	for _, tc := range []struct {
		name, method, body, wantMsg string
	}{
		{"start after end", "LabelNames", `{"start": 10, "end": 1}`, "query start time is after end time"},
		{"start after end ProfileTypes", "ProfileTypes", `{"start": 10, "end": 1}`, "query start time is after end time"},
		{"start after end Series", "Series", `{"start": 10, "end": 1}`, "query start time is after end time"},
		{"name missing", "LabelValues", `{"start": 1, "end": 2}`, "name is required"},
		{"invalid matcher LabelNames", "LabelNames", `{"matchers": ["not a selector"], "start": 1, "end": 2}`, "parse error"},
		{"invalid matcher LabelValues", "LabelValues", `{"name": "a", "matchers": ["{service_name=}"], "start": 1, "end": 2}`, "parse error"},
		{"invalid matcher Series", "Series", `{"matchers": ["{a=\"b\""], "start": 1, "end": 2}`, "parse error"},
		{"empty selector is invalid", "Series", `{"matchers": [""], "start": 1, "end": 2}`, "unexpected end of input"},
		{"bad regex", "Series", `{"matchers": ["{a=~\"(\"}"], "start": 1, "end": 2}`, "parse error"},
		{"too long a range", "LabelNames", `{"start": 1, "end": 172800001}`, "max_query_length, actual: 48h0m0s, limit: 1d"},
		{"oversized request", "Series", `{"matchers": ["{a=\"` + strings.Repeat("x", 5000) + `\"}"], "start": 1, "end": 2}`, "over the limit of 4096 bytes"},
		{"malformed JSON", "LabelNames", `{"start": `, "unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(tc.method, tc.body)
			if r.status != 400 || r.body["code"] != "invalid_argument" {
				t.Fatalf("got %d %s, want 400 invalid_argument", r.status, r.raw)
			}
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q does not say %q", msg, tc.wantMsg)
			}
		})
	}
	t.Run("hostile selectors do not crash", func(t *testing.T) {
		for _, sel := range []string{`{a=~".*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*x"}`, `{__name__=~"(a|b|c|d)*"}`, `{"\u0000"="\u0000"}`, `{a!~""}`} {
			r := s.post("Series", `{"matchers": [`+string(mustJSON(sel))+`], "start": 1, "end": 20000}`)
			if r.status != 200 && r.status != 400 {
				t.Errorf("%s: got %d %s", sel, r.status, r.raw)
			}
		}
	})
	t.Run("unimplemented methods", func(t *testing.T) {
		r := s.post("SelectHeatmap", `{}`)
		if r.status != 501 || r.body["code"] != "unimplemented" {
			t.Errorf("got %d %s, want 501 unimplemented", r.status, r.raw)
		}
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestLookback(t *testing.T) {
	// now is 1700000000000; a 7-day lookback makes every fixture block too old.
	s := newTestServer(t, Config{MaxQueryLookback: 7 * 24 * time.Hour}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	if r := s.post("LabelNames", `{`+fullRange+`}`); r.status != 200 || r.raw != "{}" {
		t.Errorf("got %d %s, want an empty answer", r.status, r.raw)
	}
}

func TestNoTimeRange(t *testing.T) {
	// Pyroscope answers label RPCs without a range from ingesters only; over
	// blocks that is nothing.
	s := newTestServer(t, Config{}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	for _, m := range []string{"LabelNames", "ProfileTypes", "Series"} {
		if r := s.post(m, `{}`); r.status != 200 || r.raw != "{}" {
			t.Errorf("%s: got %d %s, want {}", m, r.status, r.raw)
		}
	}
	if r := s.post("LabelValues", `{"name": "job", "start": 1}`); r.status != 200 || r.raw != "{}" {
		t.Errorf("LabelValues: got %d %s, want {}", r.status, r.raw)
	}
}

func TestAcceptHeader(t *testing.T) {
	s := newTestServer(t, Config{}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	r := s.post("LabelNames", `{`+fullRange+`}`, "Accept", "*/*;allow-utf8-labelnames=true")
	if r.status != 200 || len(r.strings("names")) == 0 {
		t.Errorf("with the capability: got %d %s", r.status, r.raw)
	}
	r = s.post("LabelNames", `{`+fullRange+`}`, "Accept", "text/html; q=0.9; =bad")
	if r.status != 400 || !strings.HasPrefix(r.raw, "Invalid header format") {
		t.Errorf("unparsable Accept: got %d %q, want 400 Invalid header format", r.status, r.raw)
	}
}

func TestLegacyLabelNames(t *testing.T) {
	for name, want := range map[string]bool{
		"service_name": true, "__name__": true, "_": true, "a1": true, "A_b": true,
		"": false, "1a": false, "service.name": false, "a-b": false, "ä": false, "a b": false,
	} {
		if got := isLegacyLabelName(name); got != want {
			t.Errorf("isLegacyLabelName(%q) = %v, want %v", name, got, want)
		}
	}
	ls := blockreader.Labels{{Name: "z", Value: "1"}, {Name: "service.name", Value: "x"}, {Name: "a", Value: "2"}}
	if got := projectLabels(ls, nil, false); !slices.Equal(got, blockreader.Labels{{Name: "a", Value: "2"}, {Name: "z", Value: "1"}}) {
		t.Errorf("projectLabels without the capability = %v", got)
	}
	if got := projectLabels(ls, nil, true); len(got) != 3 || got[1].Name != "service.name" {
		t.Errorf("projectLabels with the capability = %v", got)
	}
	if got := projectLabels(ls, []string{"z", "missing", "a"}, false); !slices.Equal(got, blockreader.Labels{{Name: "a", Value: "2"}, {Name: "z", Value: "1"}}) {
		t.Errorf("projectLabels onto names = %v", got)
	}
}

func TestCompareLabels(t *testing.T) {
	sets := []blockreader.Labels{
		{{Name: "job", Value: "b"}},
		{},
		{{Name: "instance", Value: "x"}, {Name: "job", Value: "default"}},
		{{Name: "job", Value: "a"}},
		{{Name: "job", Value: "a"}, {Name: "k", Value: "v"}},
	}
	slices.SortFunc(sets, compareLabels)
	var got bytes.Buffer
	for _, s := range sets {
		got.WriteString("{")
		for _, l := range s {
			got.WriteString(l.Name + "=" + l.Value + ",")
		}
		got.WriteString("}")
	}
	if want := "{}{instance=x,job=default,}{job=a,}{job=a,k=v,}{job=b,}"; got.String() != want {
		t.Errorf("order %s, want %s", got.String(), want)
	}
}

func TestProfileStatsAndAnalyzeQuery(t *testing.T) {
	s := newTestServer(t, Config{}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	r := s.post("GetProfileStats", `{}`)
	// The oldest fixture block starts at 1 s, the newest ends 2023-09-11T19:23:30Z.
	if r.status != 200 || r.body["dataIngested"] != true || r.body["oldestProfileTime"] != "1000" || r.body["newestProfileTime"] != "1694460210000" {
		t.Errorf("GetProfileStats: %d %s", r.status, r.raw)
	}
	empty := newTestServer(t, Config{}, staticBlocks{})
	if r := empty.post("GetProfileStats", `{}`); r.body["oldestProfileTime"] != "9223372036854775807" || r.body["newestProfileTime"] != "-9223372036854775808" {
		t.Errorf("GetProfileStats without data: %s", r.raw)
	}

	r = s.post("AnalyzeQuery", `{"start": 1, "end": 1700000000000, "query": "process_cpu:cpu:nanoseconds:cpu:nanoseconds{job=\"a\"}"}`)
	if r.status != 200 {
		t.Fatalf("AnalyzeQuery: %d %s", r.status, r.raw)
	}
	scopes, _ := r.body["queryScopes"].([]any)
	if len(scopes) != 2 {
		t.Fatalf("want two scopes: %s", r.raw)
	}
	long := scopes[1].(map[string]any)
	impact := r.body["queryImpact"].(map[string]any)
	// Four fixture blocks overlap; job="a" is one series of one of them.
	if long["blockCount"] != "4" || impact["totalQueriedSeries"] != "1" || long["indexBytes"] == nil {
		t.Errorf("AnalyzeQuery: %s", r.raw)
	}
	if r := s.post("AnalyzeQuery", `{}`); r.status != 200 || r.raw != "{}" {
		t.Errorf("AnalyzeQuery without a range: %d %s", r.status, r.raw)
	}
	if r := s.post("AnalyzeQuery", `{"start": 1, "end": 2, "query": "{"}`); r.status != 400 {
		t.Errorf("AnalyzeQuery with a bad query: %d %s", r.status, r.raw)
	}
}

func TestSelectBadInput(t *testing.T) {
	s := newTestServer(t, Config{MaxSeriesPoints: 1000}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	const base = `"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}", "start": 1694460120000, "end": 1694460210000`
	for _, tc := range []struct {
		name, method, body, wantCode, wantMsg string
	}{
		{"step zero", "SelectSeries", `{` + base + `}`, "invalid_argument", "step must be non-zero"},
		{"step negative", "SelectSeries", `{` + base + `, "step": -15}`, "invalid_argument", "step must be positive"},
		{"step below a millisecond", "SelectSeries", `{` + base + `, "step": 0.0001}`, "invalid_argument", "step"},
		{"unknown aggregation", "SelectSeries", `{` + base + `, "step": 15, "aggregation": 7}`, "invalid_argument", "aggregation"},
		{"negative limit", "SelectSeries", `{` + base + `, "step": 15, "limit": -1}`, "invalid_argument", "limit"},
		{"empty call site name", "SelectSeries", `{` + base + `, "step": 15, "stackTraceSelector": {"callSite": [{"name": ""}]}}`, "invalid_argument", "call_site[0]"},
		{"too many points", "SelectSeries", `{` + base + `, "step": 0.01}`, "resource_exhausted", "max-series-points"},
		{"missing time range", "SelectMergeStacktraces", `{"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}"}`, "invalid_argument", "missing time range"},
		{"bad profile type", "SelectMergeProfile", `{"profileTypeID": "cpu", "labelSelector": "{}", "start": 1, "end": 2}`, "invalid_argument", "profile-type selection"},
		{"bad profile ID", "SelectMergeStacktraces", `{` + base + `, "profileIdSelector": ["nope"]}`, "invalid_argument", "profile_id_selector"},
		{"max nodes too big", "SelectMergeStacktraces", `{` + base + `, "maxNodes": 2000000}`, "invalid_argument", "greater than allowed"},
		{"dot format", "SelectMergeStacktraces", `{` + base + `, "format": "PROFILE_FORMAT_DOT"}`, "unimplemented", "DOT"},
		{"diff without sides", "Diff", `{}`, "invalid_argument", "missing time range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(tc.method, tc.body)
			if r.body["code"] != tc.wantCode {
				t.Fatalf("got %d %s, want %s", r.status, r.raw, tc.wantCode)
			}
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message %q does not say %q", msg, tc.wantMsg)
			}
		})
	}
}

// A builder is kept for later queries only while it is no larger than the
// service's bound.
func TestProfileBuilderPool(t *testing.T) {
	s := New(Config{}, nil, nil)
	pt := flamegraph.ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	b := s.profileBuilder(pt, 0, 1)
	s.maxPooledBuilderBytes = b.SizeBytes() - 1
	s.releaseProfileBuilder(b)
	if got, ok := s.profiles.get(); ok {
		t.Errorf("a builder of %d bytes was kept with a bound of %d: %p", b.SizeBytes(), s.maxPooledBuilderBytes, got)
	}

	s.maxPooledBuilderBytes = b.SizeBytes()
	s.releaseProfileBuilder(b)
	if s.profileBuilder(pt, 0, 1) != b {
		t.Errorf("a builder of %d bytes was not kept with a bound of %d", b.SizeBytes(), s.maxPooledBuilderBytes)
	}
}
