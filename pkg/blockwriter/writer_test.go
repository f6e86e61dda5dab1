package blockwriter_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/blockwriter"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// profileBuilder makes small pprof profiles for tests.
type profileBuilder struct {
	p       *googlev1.Profile
	strings map[string]int64
	fns     map[string]uint64
}

func newProfileBuilder(periodType, periodUnit string, sampleTypes ...string) *profileBuilder {
	b := &profileBuilder{p: &googlev1.Profile{StringTable: []string{""}}, strings: map[string]int64{"": 0}, fns: map[string]uint64{}}
	for i := 0; i < len(sampleTypes); i += 2 {
		b.p.SampleType = append(b.p.SampleType, &googlev1.ValueType{Type: b.str(sampleTypes[i]), Unit: b.str(sampleTypes[i+1])})
	}
	if periodType != "" {
		b.p.PeriodType = &googlev1.ValueType{Type: b.str(periodType), Unit: b.str(periodUnit)}
		b.p.Period = 10_000_000
	}
	b.p.Mapping = []*googlev1.Mapping{{Id: 1, Filename: b.str("/bin/app"), BuildId: b.str("abc"), HasFunctions: true, MemoryLimit: 1 << 20}}
	return b
}

func (b *profileBuilder) str(s string) int64 {
	if i, ok := b.strings[s]; ok {
		return i
	}
	b.p.StringTable = append(b.p.StringTable, s)
	b.strings[s] = int64(len(b.p.StringTable) - 1)
	return b.strings[s]
}

func (b *profileBuilder) fn(name string) uint64 {
	if id, ok := b.fns[name]; ok {
		return id
	}
	id := uint64(len(b.p.Function) + 1)
	b.p.Function = append(b.p.Function, &googlev1.Function{Id: id, Name: b.str(name), Filename: b.str(name + ".go")})
	b.fns[name] = id
	return id
}

// loc adds a location whose lines are the given functions, innermost
// first; "" adds a location without lines. mapping 0 means none.
func (b *profileBuilder) loc(mapping uint64, innermostFirst ...string) uint64 {
	id := uint64(len(b.p.Location) + 1)
	l := &googlev1.Location{Id: id, MappingId: mapping, Address: 0x1000 + id}
	for i, f := range innermostFirst {
		if f != "" {
			l.Line = append(l.Line, &googlev1.Line{FunctionId: b.fn(f), Line: int64(10 + i)})
		}
	}
	b.p.Location = append(b.p.Location, l)
	return id
}

func (b *profileBuilder) sample(leafFirst []uint64, values ...int64) {
	b.p.Sample = append(b.p.Sample, &googlev1.Sample{LocationId: leafFirst, Value: values})
}

// syntheticCPU is a CPU profile with inlined frames, a location without
// lines, a location without mapping, duplicate stacks, and zero and
// negative values.
func syntheticCPU(scale int64) *googlev1.Profile {
	b := newProfileBuilder("cpu", "nanoseconds", "samples", "count", "cpu", "nanoseconds")
	main := b.loc(1, "main.main")
	run := b.loc(1, "main.run")
	inl := b.loc(1, "strings.Index", "bytes.Index", "main.search") // two inlined frames
	noLines := b.loc(1, "")
	noMapping := b.loc(0, "runtime.mallocgc")
	b.sample([]uint64{run, main}, 1*scale, 10_000_000*scale)
	b.sample([]uint64{inl, run, main}, 2*scale, 20_000_000*scale)
	b.sample([]uint64{inl, run, main}, 3, 30_000_000) // same stack again
	b.sample([]uint64{noLines, run, main}, 1, 0)      // zero for one type
	b.sample([]uint64{noMapping, main}, 0, 5_000_000)
	b.sample([]uint64{noMapping, run, main}, -4, -1) // dropped
	b.sample(nil, 7, 7)                              // no stack: dropped
	b.sample([]uint64{noLines}, 5, 5)                // no frames: dropped by readers
	return b.p
}

// syntheticHeap is a memory profile with four sample types, one of them
// always zero.
func syntheticHeap(scale int64) *googlev1.Profile {
	b := newProfileBuilder("space", "bytes", "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects", "count", "inuse_space", "bytes")
	main := b.loc(1, "main.main")
	alloc := b.loc(1, "runtime.mallocgc")
	mk := b.loc(1, "main.makeBuffer")
	b.sample([]uint64{alloc, mk, main}, 4*scale, 4096*scale, 0, 0)
	b.sample([]uint64{alloc, main}, 1, 512, 0, 0)
	return b.p
}

func syntheticInputs() []input {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixNano()
	var out []input
	for i := 0; i < 6; i++ {
		ts := base + int64(i)*int64(25*time.Minute) + 1_500_000 // spans three hours
		out = append(out,
			input{name: "cpu-api", profile: syntheticCPU(int64(i + 1)), time: ts,
				labels: blockwriter.Labels{{"service_name", "api"}, {"__name__", "process_cpu"}, {"pod", "api-0"}, {"__delta__", "false"}, {"empty", ""}}},
			input{name: "cpu-db", profile: syntheticCPU(2), time: ts + 1,
				labels: blockwriter.Labels{{"__name__", "process_cpu"}, {"service_name", "db"}}},
			input{name: "heap-nosvc", profile: syntheticHeap(int64(i + 1)), time: ts + 2,
				labels: blockwriter.Labels{{"__name__", "memory"}, {"job", "batch"}}},
		)
	}
	return out
}

func TestRoundTripSynthetic(t *testing.T) {
	metas := roundTrip(t, syntheticInputs(), 0)
	if len(metas) != 3 {
		t.Fatalf("%d blocks, want 3 (one per hour)", len(metas))
	}
}

func TestSeriesLabels(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	w, err := blockwriter.New(bkt, "t1", blockwriter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := syntheticInputs()[:3]
	for _, x := range in {
		if err := w.Add(x.labels, x.profile, x.time); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := w.Flush(context.Background())
	if err != nil || len(infos) != 1 {
		t.Fatalf("Flush: %v, %d blocks", err, len(infos))
	}
	files := bucketFiles{bkt, infos[0].Dir}
	raw, err := files.ReadFile(context.Background(), "index.tsdb")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := blockreader.NewIndexReader(raw)
	if err != nil {
		t.Fatal(err)
	}
	refs, _ := idx.AllPostings()
	var got []string
	for _, ref := range refs {
		var s blockreader.Series
		if err := idx.Series(ref, &s); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, l := range s.Labels {
			parts = append(parts, l.Name+"="+l.Value)
		}
		got = append(got, strings.Join(parts, ","))
	}
	// The heap profile's inuse types are all zero: no series for them.
	want := []string{
		"__name__=memory,__period_type__=space,__period_unit__=bytes,__profile_type__=memory:alloc_objects:count:space:bytes,__type__=alloc_objects,__unit__=count,job=batch",
		"__name__=memory,__period_type__=space,__period_unit__=bytes,__profile_type__=memory:alloc_space:bytes:space:bytes,__type__=alloc_space,__unit__=bytes,job=batch",
		"__name__=process_cpu,__period_type__=cpu,__period_unit__=nanoseconds,__profile_type__=process_cpu:cpu:nanoseconds:cpu:nanoseconds,__service_name__=api,__type__=cpu,__unit__=nanoseconds,pod=api-0,service_name=api",
		"__name__=process_cpu,__period_type__=cpu,__period_unit__=nanoseconds,__profile_type__=process_cpu:cpu:nanoseconds:cpu:nanoseconds,__service_name__=db,__type__=cpu,__unit__=nanoseconds,service_name=db",
		"__name__=process_cpu,__period_type__=cpu,__period_unit__=nanoseconds,__profile_type__=process_cpu:samples:count:cpu:nanoseconds,__service_name__=api,__type__=samples,__unit__=count,pod=api-0,service_name=api",
		"__name__=process_cpu,__period_type__=cpu,__period_unit__=nanoseconds,__profile_type__=process_cpu:samples:count:cpu:nanoseconds,__service_name__=db,__type__=samples,__unit__=count,service_name=db",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if idx.LabelValues("__profile_type__") == nil {
		t.Error("no __profile_type__ values")
	}
}

// bucketContents returns every object of bkt.
func bucketContents(t *testing.T, bkt *objstore.InMemBucket) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, data := range bkt.Objects() {
		out[name] = string(data)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	write := func() map[string]string {
		bkt := objstore.NewInMemBucket()
		w, err := blockwriter.New(bkt, "anonymous", blockwriter.Options{Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range syntheticInputs() {
			if err := w.Add(in.labels, in.profile, in.time); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		return bucketContents(t, bkt)
	}
	a, b := write(), write()
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d objects", len(a), len(b))
	}
	for name, data := range a {
		if b[name] != data {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

func TestAddRejects(t *testing.T) {
	good := blockwriter.Labels{{"__name__", "process_cpu"}, {"service_name", "x"}}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	noSamples := syntheticCPU(1)
	noSamples.Sample = nil
	allZero := syntheticHeap(1)
	for _, s := range allZero.Sample {
		clear(s.Value)
	}
	dangling := syntheticCPU(1)
	dangling.Sample[0].LocationId = []uint64{99}
	badString := syntheticCPU(1)
	badString.Function[0].Name = 1000
	wrongValues := syntheticCPU(1)
	wrongValues.Sample[0].Value = []int64{1}
	noTime := syntheticCPU(1)
	noTime.TimeNanos = 0

	tests := []struct {
		name    string
		labels  blockwriter.Labels
		p       *googlev1.Profile
		ts      int64
		wantErr error
		wantMsg string
	}{
		{"invalid label name", blockwriter.Labels{{"__name__", "x"}, {"service.name", "x"}}, syntheticCPU(1), ts, blockwriter.ErrInvalidLabels, `"service.name"`},
		{"label name with digit first", blockwriter.Labels{{"__name__", "x"}, {"1abc", "x"}}, syntheticCPU(1), ts, blockwriter.ErrInvalidLabels, `"1abc"`},
		{"invalid UTF-8 value", blockwriter.Labels{{"__name__", "x"}, {"pod", "\xff"}}, syntheticCPU(1), ts, blockwriter.ErrInvalidLabels, "pod"},
		{"no __name__", blockwriter.Labels{{"service_name", "x"}}, syntheticCPU(1), ts, blockwriter.ErrInvalidLabels, "__name__"},
		{"derived label given", blockwriter.Labels{{"__name__", "x"}, {"__type__", "cpu"}}, syntheticCPU(1), ts, blockwriter.ErrInvalidLabels, "__type__"},
		{"duplicate label", blockwriter.Labels{{"__name__", "x"}, {"pod", "a"}, {"pod", "b"}}, syntheticCPU(1), ts, blockwriter.ErrInvalidLabels, "pod"},
		{"nil profile", good, nil, ts, blockwriter.ErrInvalidProfile, "nil"},
		{"no samples", good, noSamples, ts, blockwriter.ErrEmptyProfile, "0 samples"},
		{"all values zero", good, allZero, ts, blockwriter.ErrEmptyProfile, "none with"},
		{"dangling location", good, dangling, ts, blockwriter.ErrInvalidProfile, "location 99"},
		{"string out of range", good, badString, ts, blockwriter.ErrInvalidProfile, "string 1000"},
		{"wrong value count", good, wrongValues, ts, blockwriter.ErrInvalidProfile, "1 values for 2"},
		{"no timestamp", good, noTime, 0, nil, "no timestamp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bkt := objstore.NewInMemBucket()
			w, err := blockwriter.New(bkt, "anonymous", blockwriter.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Add(tc.labels, tc.p, tc.ts)
			if err == nil {
				t.Fatal("Add accepted it")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
			if w.Pending() != 0 {
				t.Errorf("%d rows pending after a rejected profile", w.Pending())
			}
		})
	}
	if _, err := blockwriter.New(objstore.NewInMemBucket(), "a/b", blockwriter.Options{}); err == nil {
		t.Error("New accepted tenant a/b")
	}
}

// failingBucket fails the n-th upload.
type failingBucket struct {
	*objstore.InMemBucket
	n, uploads int
}

func (b *failingBucket) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	b.uploads++
	if b.uploads == b.n {
		return errors.New("injected upload failure")
	}
	return b.InMemBucket.Upload(ctx, name, r, opts...)
}

func TestFailedUploadLeavesNothing(t *testing.T) {
	for n := 1; n <= 9; n++ { // 8 data files, then meta.json
		bkt := &failingBucket{InMemBucket: objstore.NewInMemBucket(), n: n}
		w, err := blockwriter.New(bkt, "anonymous", blockwriter.Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := syntheticInputs()[0]
		if err := w.Add(in.labels, in.profile, in.time); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("upload %d failing: Flush returned %v", n, err)
		}
		if objs := bkt.Objects(); len(objs) != 0 {
			t.Errorf("upload %d failing: %d objects left behind", n, len(objs))
		}
		if w.Pending() == 0 {
			t.Errorf("upload %d failing: the block was forgotten", n)
		}
		// The next try succeeds and writes meta.json last.
		bkt.n = -1
		infos, err := w.Flush(context.Background())
		if err != nil || len(infos) != 1 {
			t.Fatalf("retry: %v", err)
		}
		if _, err := blockreader.ParseMeta(bkt.Objects()[infos[0].Dir+"/meta.json"]); err != nil {
			t.Fatal(err)
		}
	}
}
