package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// goldenCase is one file of ../shared/testdata/golden/<dataset>/.
type goldenCase struct {
	Name        string          `json:"name"`
	Dataset     string          `json:"dataset"`
	Method      string          `json:"method"`
	Endpoint    string          `json:"endpoint"`
	Request     json.RawMessage `json:"request"`
	HTTPStatus  int             `json:"http_status"`
	Response    json.RawMessage `json:"response"`
	Error       *goldenError    `json:"error"`
	Notes       string          `json:"notes"`
	Canonical   json.RawMessage `json:"response_canonical"`
	dir         string
	responseAny any
}

type goldenError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"http_status"`
}

// rpcTypes gives the request and response message of each method.
var rpcTypes = map[string]struct{ req, resp func() proto.Message }{
	"ProfileTypes": {
		func() proto.Message { return &querierv1.ProfileTypesRequest{} },
		func() proto.Message { return &querierv1.ProfileTypesResponse{} }},
	"LabelNames": {
		func() proto.Message { return &typesv1.LabelNamesRequest{} },
		func() proto.Message { return &typesv1.LabelNamesResponse{} }},
	"LabelValues": {
		func() proto.Message { return &typesv1.LabelValuesRequest{} },
		func() proto.Message { return &typesv1.LabelValuesResponse{} }},
	"Series": {
		func() proto.Message { return &querierv1.SeriesRequest{} },
		func() proto.Message { return &querierv1.SeriesResponse{} }},
	"SelectMergeStacktraces": {
		func() proto.Message { return &querierv1.SelectMergeStacktracesRequest{} },
		func() proto.Message { return &querierv1.SelectMergeStacktracesResponse{} }},
	"SelectMergeProfile": {
		func() proto.Message { return &querierv1.SelectMergeProfileRequest{} },
		func() proto.Message { return &googlev1.Profile{} }},
	"Diff": {
		func() proto.Message { return &querierv1.DiffRequest{} },
		func() proto.Message { return &querierv1.DiffResponse{} }},
	"SelectSeries": {
		func() proto.Message { return &querierv1.SelectSeriesRequest{} },
		func() proto.Message { return &querierv1.SelectSeriesResponse{} }},
	"SelectHeatmap": {
		func() proto.Message { return &querierv1.SelectHeatmapRequest{} },
		func() proto.Message { return &querierv1.SelectHeatmapResponse{} }},
}

// pendingMethods are golden methods whose RPCs later issues build; their
// cases are reported as skipped, by name, with the reason.
var pendingMethods = map[string]string{}

func loadGoldens(t *testing.T, dir string) []*goldenCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []*goldenCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := &goldenCase{dir: dir}
		if err := json.Unmarshal(b, c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Response != nil {
			if err := json.Unmarshal(c.Response, &c.responseAny); err != nil {
				t.Fatalf("%s: response: %v", f, err)
			}
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatalf("no golden cases in %s", dir)
	}
	return cases
}

// expectation is what Cinder must answer to a golden request.
type expectation struct {
	httpStatus int
	code       string // Connect code name on error, "" on success
	response   any    // parsed protobuf JSON on success
	why        string // set when the answer differs from Pyroscope's, and why
	// check, when set, replaces the comparison with response.
	check func(t *testing.T, got any)
}

func fromGolden(c *goldenCase) expectation {
	if c.Error != nil {
		return expectation{httpStatus: c.HTTPStatus, code: c.Error.Code}
	}
	if c.Method == "SelectMergeProfile" {
		// Merged profiles are compared through their canonical view.
		var canonical any
		if err := json.Unmarshal(c.Canonical, &canonical); err != nil {
			panic(fmt.Sprintf("%s: response_canonical: %v", c.Name, err))
		}
		return expectation{httpStatus: c.HTTPStatus, response: canonical}
	}
	return expectation{httpStatus: c.HTTPStatus, response: c.responseAny}
}

// override computes the correct answer for a case where
// ../shared/testdata/README.md says Pyroscope's answer is wrong.
type override func(t *testing.T, byName map[string]*goldenCase, env overrideEnv) expectation

// overrideEnv is what an override may consult besides other goldens.
type overrideEnv struct {
	server  *server
	dataset string // the bucket directory
}

var overrides = map[string]map[string]override{
	"fixtures": {
		// README policy 3: block 01GR3QABQB6J30Q04K4E6MAKRE has
		// minTime == maxTime; inclusive overlap selects it for both ranges, so
		// the answer is the block's series, as for [minTime-1, minTime].
		"Series_block_boundary_b1_exact":        sameAs("Series_block_boundary_b1_end_eq_min", "policy 3: block ranges are inclusive"),
		"Series_block_boundary_b1_start_eq_max": sameAs("Series_block_boundary_b1_end_eq_min", "policy 3: block ranges are inclusive"),
		// README policy 4.
		"error_LabelNames_invalid_matcher":  invalidArgument("policy 4: invalid matchers are invalid_argument"),
		"error_LabelValues_invalid_matcher": invalidArgument("policy 4: invalid matchers are invalid_argument"),
		"error_Series_invalid_matcher":      invalidArgument("policy 4: invalid matchers are invalid_argument"),
	},
	"medium": {
		// README policy 3: Pyroscope dropped block 0 whose maxTime == start.
		// The right answer is block 0's series (all of them are in the range
		// [minTime-60s, minTime] of the end_eq_block_min case) together with
		// the next block's, which Pyroscope did return.
		"boundary_block0_start_eq_block_max_Series": unionOf("policy 3: block ranges are inclusive",
			"boundary_block0_start_eq_block_max_Series", "boundary_block0_end_eq_block_min_Series"),
		"error_LabelNames_invalid_matcher":  invalidArgument("policy 4: invalid matchers are invalid_argument"),
		"error_LabelValues_invalid_matcher": invalidArgument("policy 4: invalid matchers are invalid_argument"),
		"error_Series_invalid_matcher":      invalidArgument("policy 4: invalid matchers are invalid_argument"),
	},
}

func invalidArgument(why string) override {
	return func(*testing.T, map[string]*goldenCase, overrideEnv) expectation {
		return expectation{httpStatus: http.StatusBadRequest, code: "invalid_argument", why: why}
	}
}

func sameAs(other, why string) override {
	return func(t *testing.T, byName map[string]*goldenCase, _ overrideEnv) expectation {
		o := byName[other]
		if o == nil || o.Error != nil {
			t.Fatalf("override needs the successful golden case %s", other)
		}
		e := fromGolden(o)
		e.why = why + " (expected answer of " + other + ")"
		return e
	}
}

// unionOf is the sorted, deduplicated union of the label sets of several
// Series goldens with the same label names.
func unionOf(why string, names ...string) override {
	return func(t *testing.T, byName map[string]*goldenCase, _ overrideEnv) expectation {
		seen := map[string]any{}
		for _, n := range names {
			o := byName[n]
			if o == nil || o.Error != nil {
				t.Fatalf("override needs the successful golden case %s", n)
			}
			m, _ := o.responseAny.(map[string]any)
			sets, _ := m["labelsSet"].([]any)
			for _, s := range sets {
				k, _ := json.Marshal(s)
				seen[string(k)] = s
			}
		}
		sets := make([]any, 0, len(seen))
		for _, s := range seen {
			sets = append(sets, s)
		}
		sort.Slice(sets, func(i, j int) bool { return compareLabelSets(sets[i], sets[j]) < 0 })
		return expectation{httpStatus: http.StatusOK, response: map[string]any{"labelsSet": sets}, why: why + " (union of " + strings.Join(names, ", ") + ")"}
	}
}

func compareLabelSets(a, b any) int {
	pairs := func(x any) [][2]string {
		m, _ := x.(map[string]any)
		ls, _ := m["labels"].([]any)
		out := make([][2]string, len(ls))
		for i, l := range ls {
			p := l.(map[string]any)
			out[i] = [2]string{p["name"].(string), p["value"].(string)}
		}
		return out
	}
	pa, pb := pairs(a), pairs(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if c := strings.Compare(pa[i][0], pb[i][0]); c != 0 {
			return c
		}
		if c := strings.Compare(pa[i][1], pb[i][1]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

// answer is what one protocol got back.
type answer struct {
	httpStatus int // 0 for gRPC
	code       string
	message    string
	response   any
}

type protocol struct {
	name string
	call func(t *testing.T, s *server, c *goldenCase) answer
}

func protocols(t *testing.T, s *server) []protocol {
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return []protocol{
		{"connect-json", callConnectJSON},
		{"connect-proto", callConnectProto},
		{"grpc", func(t *testing.T, s *server, c *goldenCase) answer { return callGRPC(t, conn, c) }},
	}
}

func callConnectJSON(t *testing.T, s *server, c *goldenCase) answer {
	req, _ := http.NewRequest(http.MethodPost, s.URL+c.Endpoint, bytes.NewReader(c.Request))
	req.Header.Set("Content-Type", "application/json")
	st, _, body := httpDo(t, req)
	return connectAnswer(t, st, body, func(b []byte) any { return parseJSON(t, b) })
}

func callConnectProto(t *testing.T, s *server, c *goldenCase) answer {
	types := rpcTypes[c.Method]
	msg := types.req()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(c.Request, msg); err != nil {
		t.Fatalf("golden request does not decode: %v", err)
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+c.Endpoint, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Connect-Protocol-Version", "1")
	st, _, body := httpDo(t, req)
	return connectAnswer(t, st, body, func(b []byte) any {
		resp := types.resp()
		if err := proto.Unmarshal(b, resp); err != nil {
			t.Fatalf("response does not decode as %T: %v", resp, err)
		}
		return protoToAny(t, resp)
	})
}

func connectAnswer(t *testing.T, st int, body []byte, decode func([]byte) any) answer {
	if st != http.StatusOK {
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("HTTP %d with a body that is not a Connect error: %q", st, body)
		}
		return answer{httpStatus: st, code: e.Code, message: e.Message}
	}
	return answer{httpStatus: st, response: decode(body)}
}

func callGRPC(t *testing.T, conn *grpc.ClientConn, c *goldenCase) answer {
	types := rpcTypes[c.Method]
	req := types.req()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(c.Request, req); err != nil {
		t.Fatalf("golden request does not decode: %v", err)
	}
	resp := types.resp()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := conn.Invoke(ctx, c.Endpoint, req, resp); err != nil {
		st := status.Convert(err)
		return answer{code: connect.Code(st.Code()).String(), message: st.Message()}
	}
	return answer{response: protoToAny(t, resp)}
}

func protoToAny(t *testing.T, m proto.Message) any {
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return parseJSON(t, b)
}

func parseJSON(t *testing.T, b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("response is not JSON: %v: %q", err, b)
	}
	return v
}

func TestGolden(t *testing.T) {
	root := sharedTestdata(t)
	for _, dataset := range []string{"fixtures", "medium"} {
		t.Run(dataset, func(t *testing.T) {
			cases := loadGoldens(t, filepath.Join(root, "golden", dataset))
			byName := map[string]*goldenCase{}
			for _, c := range cases {
				byName[c.Name] = c
			}
			for name := range overrides[dataset] {
				if byName[name] == nil {
					t.Errorf("override for %s names no golden case", name)
				}
			}
			s := startServer(t, filepath.Join(root, "blocks", dataset))
			protos := protocols(t, s)
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					if reason, ok := pendingMethods[c.Method]; ok {
						t.Skipf("%s is built by %s", c.Method, reason)
					}
					if c.Method == renderMethod {
						want := fromGolden(c)
						if o, ok := overrides[dataset][c.Name]; ok {
							want = o(t, byName, overrideEnv{server: s, dataset: filepath.Join(root, "blocks", dataset)})
						}
						checkAnswer(t, "http", c.Method, want, callRender(t, s, c))
						return
					}
					if _, ok := rpcTypes[c.Method]; !ok {
						t.Fatalf("golden method %q is unknown to the test", c.Method)
					}
					want := fromGolden(c)
					if o, ok := overrides[dataset][c.Name]; ok {
						want = o(t, byName, overrideEnv{server: s, dataset: filepath.Join(root, "blocks", dataset)})
						t.Logf("answer differs from Pyroscope's on purpose: %s", want.why)
					}
					for _, p := range protos {
						t.Run(p.name, func(t *testing.T) {
							checkAnswer(t, p.name, c.Method, want, p.call(t, s, c))
						})
					}
				})
			}
		})
	}
}

func checkAnswer(t *testing.T, proto, method string, want expectation, got answer) {
	t.Helper()
	if want.code != "" {
		if got.code != want.code {
			t.Fatalf("got code %q (HTTP %d, %q), want %q", got.code, got.httpStatus, got.message, want.code)
		}
		if proto != "grpc" && got.httpStatus != want.httpStatus {
			t.Fatalf("got HTTP %d, want %d", got.httpStatus, want.httpStatus)
		}
		if strings.TrimSpace(got.message) == "" {
			t.Fatalf("error %q has no message", got.code)
		}
		return
	}
	if got.code != "" {
		t.Fatalf("got error %s: %s, want success", got.code, got.message)
	}
	if want.check != nil {
		want.check(t, got.response)
		return
	}
	if cmp, ok := comparers[method]; ok {
		cmp(t, got.response, want.response)
		return
	}
	if !reflect.DeepEqual(got.response, want.response) {
		t.Fatalf("response differs\n got: %s\nwant: %s", shortJSON(got.response), shortJSON(want.response))
	}
}

func shortJSON(v any) string {
	b, _ := json.Marshal(v)
	const limit = 3000
	if len(b) > limit {
		return string(b[:limit]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}
