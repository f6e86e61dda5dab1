package proto_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	"github.com/cinder-profiling/cinder/proto/querier/v1/querierv1connect"
	typesv1 "github.com/cinder-profiling/cinder/proto/types/v1"
)

// goldenRoot is ../shared/testdata/golden seen from the repository root;
// tests run in proto/, one level below it.
const goldenRoot = "../../shared/testdata/golden"

// goldenDatasets are the golden directories answered by Pyroscope v1.21.1.
var goldenDatasets = []string{"fixtures", "medium"}

// rpc names the request and response messages of one QuerierService method.
type rpc struct {
	request, response proto.Message
}

// rpcs is the method table of querier.v1.QuerierService, written out by hand
// so that TestQuerierServiceDescriptor can check the generated descriptor
// against it.
var rpcs = map[string]rpc{
	"ProfileTypes":           {&querierv1.ProfileTypesRequest{}, &querierv1.ProfileTypesResponse{}},
	"LabelValues":            {&typesv1.LabelValuesRequest{}, &typesv1.LabelValuesResponse{}},
	"LabelNames":             {&typesv1.LabelNamesRequest{}, &typesv1.LabelNamesResponse{}},
	"Series":                 {&querierv1.SeriesRequest{}, &querierv1.SeriesResponse{}},
	"SelectMergeStacktraces": {&querierv1.SelectMergeStacktracesRequest{}, &querierv1.SelectMergeStacktracesResponse{}},
	"SelectMergeSpanProfile": {&querierv1.SelectMergeSpanProfileRequest{}, &querierv1.SelectMergeSpanProfileResponse{}},
	"SelectMergeProfile":     {&querierv1.SelectMergeProfileRequest{}, &googlev1.Profile{}},
	"SelectSeries":           {&querierv1.SelectSeriesRequest{}, &querierv1.SelectSeriesResponse{}},
	"SelectHeatmap":          {&querierv1.SelectHeatmapRequest{}, &querierv1.SelectHeatmapResponse{}},
	"Diff":                   {&querierv1.DiffRequest{}, &querierv1.DiffResponse{}},
	"GetProfileStats":        {&typesv1.GetProfileStatsRequest{}, &typesv1.GetProfileStatsResponse{}},
	"AnalyzeQuery":           {&querierv1.AnalyzeQueryRequest{}, &querierv1.AnalyzeQueryResponse{}},
}

// requestsWithUnknownFields lists golden cases whose request deliberately
// carries a JSON field the contract does not know (Pyroscope ignores such
// fields). The v1.21.1 goldens have none; add a case here, with the reason,
// only if one is recorded on purpose. Listed cases must still fail strict
// decoding, so the list cannot go stale.
var requestsWithUnknownFields = map[string]string{}

// goldenCase is the part of a golden file this test reads; see
// ../shared/testdata/README.md for the format.
type goldenCase struct {
	Name                              string          `json:"name"`
	Method                            string          `json:"method"`
	Request                           json.RawMessage `json:"request"`
	Response                          json.RawMessage `json:"response"`
	ResponseProtoFile                 string          `json:"response_proto_file"`
	ResponseProtoSHA256               string          `json:"response_proto_sha256"`
	ResponseProtoBytes                int             `json:"response_proto_bytes"`
	ResponseProtoMatchesJSON          bool            `json:"response_proto_matches_json"`
	ResponseCanonical                 json.RawMessage `json:"response_canonical"`
	ResponseProtoMatchesJSONCanonical bool            `json:"response_proto_matches_json_canonical"`

	dir string // directory of the golden file
}

func (c *goldenCase) id() string { return filepath.Base(c.dir) + "/" + c.Name }

func loadGoldenCases(t *testing.T) []*goldenCase {
	t.Helper()
	if _, err := os.Stat(goldenRoot); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("golden answers not found at %s (../shared/testdata next to the repository); skipping wire tests", goldenRoot)
	}
	var cases []*goldenCase
	for _, dataset := range goldenDatasets {
		dir := filepath.Join(goldenRoot, dataset)
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c := &goldenCase{dir: dir}
			if err := json.Unmarshal(b, c); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		t.Fatalf("no golden cases under %s", goldenRoot)
	}
	return cases
}

func TestQuerierServiceDescriptor(t *testing.T) {
	if querierv1connect.QuerierServiceName != "querier.v1.QuerierService" {
		t.Fatalf("service name %q", querierv1connect.QuerierServiceName)
	}
	sd := querierv1.File_querier_v1_querier_proto.Services().ByName("QuerierService")
	if sd == nil {
		t.Fatal("querier.v1.QuerierService not in the generated descriptor")
	}
	if n := sd.Methods().Len(); n != len(rpcs) {
		t.Errorf("service has %d methods, the table %d", n, len(rpcs))
	}
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		name := string(md.Name())
		t.Run(name, func(t *testing.T) {
			r, ok := rpcs[name]
			if !ok {
				t.Fatalf("method %s missing from the table", name)
			}
			if md.IsStreamingClient() || md.IsStreamingServer() {
				t.Error("method is not unary")
			}
			if got, want := md.Input().FullName(), r.request.ProtoReflect().Descriptor().FullName(); got != want {
				t.Errorf("request %s, want %s", got, want)
			}
			if got, want := md.Output().FullName(), r.response.ProtoReflect().Descriptor().FullName(); got != want {
				t.Errorf("response %s, want %s", got, want)
			}
		})
	}
}

// TestGoldenRequests decodes every golden request strictly, proving that
// every JSON field name a client sent is one the contract knows.
func TestGoldenRequests(t *testing.T) {
	checked := 0
	for _, c := range loadGoldenCases(t) {
		t.Run(c.id(), func(t *testing.T) {
			r, ok := rpcs[c.Method]
			if !ok {
				t.Skipf("method %q is not a QuerierService RPC (legacy HTTP route)", c.Method)
			}
			msg := r.request.ProtoReflect().New().Interface()
			err := protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(c.Request, msg)
			if why, ok := requestsWithUnknownFields[c.id()]; ok {
				if err == nil {
					t.Fatalf("listed as carrying unknown fields (%s), but decodes strictly", why)
				}
				err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(c.Request, msg)
			}
			if err != nil {
				t.Fatalf("request %s: %v", c.Request, err)
			}
			checked++
		})
	}
	t.Logf("%d golden requests decoded", checked)
}

// TestGoldenResponses checks our messages against Pyroscope's answers:
//   - binary bodies (.response.pb) decode without unknown fields, re-encode
//     to the same bytes, and print as the recorded JSON body;
//   - every recorded JSON body decodes strictly and prints back unchanged;
//   - for SelectMergeProfile, the decoded pprof gives the recorded
//     order-independent view (response_canonical).
func TestGoldenResponses(t *testing.T) {
	var binary, jsonBodies, canonical int
	for _, c := range loadGoldenCases(t) {
		r, ok := rpcs[c.Method]
		if !ok || (c.Response == nil && c.ResponseProtoFile == "") {
			continue // legacy HTTP route or an error answer
		}
		t.Run(c.id(), func(t *testing.T) {
			var fromProto, fromJSON proto.Message
			if c.ResponseProtoFile != "" {
				fromProto = checkProtoBody(t, c, r.response)
				binary++
			}
			if c.Response != nil {
				fromJSON = checkJSONBody(t, c, r.response)
				jsonBodies++
			}
			if fromProto != nil && fromJSON != nil && c.ResponseProtoMatchesJSON {
				if !proto.Equal(fromProto, fromJSON) {
					t.Error("binary and JSON bodies decode to different messages")
				}
			}
			if c.ResponseCanonical != nil {
				var p *googlev1.Profile
				switch {
				case fromProto != nil && c.ResponseProtoMatchesJSONCanonical:
					p = fromProto.(*googlev1.Profile)
				case fromJSON != nil:
					p = fromJSON.(*googlev1.Profile)
				default:
					return
				}
				checkCanonicalProfile(t, c.ResponseCanonical, p)
				canonical++
			}
		})
	}
	t.Logf("%d binary bodies, %d JSON bodies, %d canonical profiles checked", binary, jsonBodies, canonical)
}

// checkProtoBody decodes the binary golden body into a new message of the
// type of like and returns it.
func checkProtoBody(t *testing.T, c *goldenCase, like proto.Message) proto.Message {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(c.dir, c.ResponseProtoFile))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if len(body) != c.ResponseProtoBytes || hex.EncodeToString(sum[:]) != c.ResponseProtoSHA256 {
		t.Fatalf("%s does not match the size/sha256 recorded in the golden file", c.ResponseProtoFile)
	}
	msg := like.ProtoReflect().New().Interface()
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(body, msg); err != nil {
		t.Fatalf("unmarshal %s: %v", c.ResponseProtoFile, err)
	}
	if unknown := unknownFields(msg.ProtoReflect(), string(msg.ProtoReflect().Descriptor().FullName()), nil); len(unknown) > 0 {
		t.Errorf("unknown fields (field number or wire type not in our contract):\n%s", strings.Join(unknown, "\n"))
	}
	// Pyroscope's vtprotobuf encoder writes fields in number order with
	// packed repeated scalars, as protobuf-go does; any difference here
	// means a type, number or packing mismatch.
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, body) {
		t.Errorf("re-encoding gives %d bytes that differ from the %d golden bytes", len(again), len(body))
	}
	if c.Response != nil && c.ResponseProtoMatchesJSON {
		compareJSON(t, msg, c.Response)
	}
	return msg
}

// checkJSONBody decodes the JSON golden body strictly and checks that
// protojson prints the same JSON value back.
func checkJSONBody(t *testing.T, c *goldenCase, like proto.Message) proto.Message {
	t.Helper()
	msg := like.ProtoReflect().New().Interface()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(c.Response, msg); err != nil {
		t.Fatalf("JSON response: %v", err)
	}
	compareJSON(t, msg, c.Response)
	return msg
}

// compareJSON compares protojson's output for msg with want as parsed JSON
// values: protojson varies whitespace on purpose, so bytes never match.
func compareJSON(t *testing.T, msg proto.Message, want json.RawMessage) {
	t.Helper()
	got, err := protojson.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if d := jsonDiff("$", g, w); d != "" {
		t.Errorf("protojson output differs from the golden JSON: %s", d)
	}
}

// jsonDiff describes the first difference between two parsed JSON values,
// or returns "" if they are equal.
func jsonDiff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want object", path, got)
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				return fmt.Sprintf("%s.%s: missing, want %v", path, k, wv)
			case !wok:
				return fmt.Sprintf("%s.%s: unexpected %v", path, k, gv)
			}
			if d := jsonDiff(path+"."+k, gv, wv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want array", path, got)
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s: got %d elements, want %d", path, len(g), len(w))
		}
		for i := range w {
			if d := jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("%s: got %#v, want %#v", path, got, want)
		}
		return ""
	}
}

// unknownFields appends a line for every message under m that holds bytes
// the decoder could not map to a known field.
func unknownFields(m protoreflect.Message, path string, out []string) []string {
	if u := m.GetUnknown(); len(u) > 0 {
		out = append(out, fmt.Sprintf("%s: %d unknown bytes", path, len(u)))
		if len(out) >= 20 {
			return out
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					out = unknownFields(mv.Message(), fmt.Sprintf("%s[%v]", name, k), out)
					return len(out) < 20
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				l := v.List()
				for i := 0; i < l.Len() && len(out) < 20; i++ {
					out = unknownFields(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i), out)
				}
			}
		case fd.Message() != nil:
			out = unknownFields(v.Message(), name, out)
		}
		return len(out) < 20
	})
	return out
}

// canonicalProfile is the order-independent view of a merged pprof profile
// that the goldens record as response_canonical.
type canonicalProfile struct {
	SampleTypes   [][2]string       `json:"sample_types"`
	PeriodType    [2]string         `json:"period_type"`
	Period        int64             `json:"period"`
	DurationNanos int64             `json:"duration_nanos"`
	TimeNanos     int64             `json:"time_nanos"`
	Totals        []int64           `json:"totals"`
	NumSamplesRaw int               `json:"num_samples_raw"`
	Samples       []canonicalSample `json:"samples"`
}

type canonicalSample struct {
	// Function names, leaf first, inlined frames expanded.
	Stack  []string `json:"stack"`
	Values []int64  `json:"values"`
}

// checkCanonicalProfile resolves p's string table, locations and functions
// into the canonical view and compares it with the golden one.
func checkCanonicalProfile(t *testing.T, golden json.RawMessage, p *googlev1.Profile) {
	t.Helper()
	var want canonicalProfile
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("response_canonical: %v", err)
	}
	got, err := canonicalize(p)
	if err != nil {
		t.Fatal(err)
	}
	sortSamples(want.Samples)
	sortSamples(got.Samples)
	if want.Samples == nil {
		want.Samples = []canonicalSample{}
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		var gv, wv any
		_ = json.Unmarshal(g, &gv)
		_ = json.Unmarshal(w, &wv)
		t.Errorf("canonical view differs: %s", jsonDiff("$", gv, wv))
	}
}

func canonicalize(p *googlev1.Profile) (canonicalProfile, error) {
	str := func(i int64) (string, error) {
		if i < 0 || i >= int64(len(p.StringTable)) {
			return "", fmt.Errorf("string index %d out of range (%d strings)", i, len(p.StringTable))
		}
		return p.StringTable[i], nil
	}
	valueType := func(vt *googlev1.ValueType) ([2]string, error) {
		ty, err := str(vt.GetType())
		if err != nil {
			return [2]string{}, err
		}
		unit, err := str(vt.GetUnit())
		return [2]string{ty, unit}, err
	}
	c := canonicalProfile{
		Period:        p.Period,
		DurationNanos: p.DurationNanos,
		TimeNanos:     p.TimeNanos,
		NumSamplesRaw: len(p.Sample),
		Totals:        make([]int64, len(p.SampleType)),
		Samples:       []canonicalSample{},
	}
	var err error
	if c.PeriodType, err = valueType(p.PeriodType); err != nil {
		return c, err
	}
	for _, st := range p.SampleType {
		vt, err := valueType(st)
		if err != nil {
			return c, err
		}
		c.SampleTypes = append(c.SampleTypes, vt)
	}
	functions := make(map[uint64]string, len(p.Function))
	for _, f := range p.Function {
		if functions[f.Id], err = str(f.Name); err != nil {
			return c, err
		}
	}
	locations := make(map[uint64]*googlev1.Location, len(p.Location))
	for _, l := range p.Location {
		locations[l.Id] = l
	}
	bySt := make(map[string]int)
	for _, s := range p.Sample {
		var stack []string
		for _, id := range s.LocationId {
			loc, ok := locations[id]
			if !ok {
				return c, fmt.Errorf("sample refers to unknown location %d", id)
			}
			for _, line := range loc.Line {
				name, ok := functions[line.FunctionId]
				if !ok {
					return c, fmt.Errorf("location %d refers to unknown function %d", id, line.FunctionId)
				}
				stack = append(stack, name)
			}
		}
		for i, v := range s.Value {
			if i < len(c.Totals) {
				c.Totals[i] += v
			}
		}
		key := strings.Join(stack, "\x00")
		i, ok := bySt[key]
		if !ok {
			i = len(c.Samples)
			bySt[key] = i
			c.Samples = append(c.Samples, canonicalSample{Stack: stack, Values: make([]int64, len(s.Value))})
		}
		for j, v := range s.Value {
			if j < len(c.Samples[i].Values) {
				c.Samples[i].Values[j] += v
			}
		}
	}
	for i := range c.Samples {
		if c.Samples[i].Stack == nil {
			c.Samples[i].Stack = []string{}
		}
	}
	return c, nil
}

func sortSamples(s []canonicalSample) {
	slices.SortFunc(s, func(a, b canonicalSample) int {
		if d := slices.Compare(a.Stack, b.Stack); d != 0 {
			return d
		}
		return cmp.Compare(len(a.Values), len(b.Values))
	})
}
