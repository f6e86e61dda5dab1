package flamegraph

import (
	"bytes"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// checkedBuild returns b.Build() after checking that AppendEncoded writes
// the same bytes as proto.Marshal of it, with 1 to 3 goroutines, with and
// without a prefix. Every test that builds a profile goes through it.
func checkedBuild(t testing.TB, b *ProfileBuilder) *googlev1.Profile {
	t.Helper()
	prof := b.Build()
	want, err := proto.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	saved := b.parallelism
	defer func() { b.parallelism = saved }()
	for _, parallelism := range []int{1, 2, 3} {
		b.parallelism = parallelism
		// The answer is sized as the one before: without a prefix first,
		// then with one (the samples are moved up to the head), then
		// without again from a size that fits.
		for _, prefix := range [][]byte{nil, []byte("prefix"), nil} {
			got, err := b.AppendEncoded(bytes.Clone(prefix))
			if err != nil {
				t.Fatalf("AppendEncoded: %v", err)
			}
			if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("AppendEncoded with %d goroutines after %q: %d bytes differ from proto.Marshal's %d", parallelism, prefix, len(got)-len(prefix), len(want))
			}
		}
	}
	return prof
}

// Values of every varint length, and stacks long
// enough for two-byte lengths are encoded as proto encodes them.
func TestAppendEncodedVarintLengths(t *testing.T) {
	b := NewProfileBuilder(ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}, 0, 1000)
	var stacks [][]string
	var values []int64
	for i, v := range []int64{1, 127, 128, 1 << 20, 1 << 40, 1<<63 - 1} {
		depth := 1 + i*40 // up to 241 frames: a packed field over 127 bytes
		stack := make([]string, depth)
		for d := range stack {
			stack[d] = "fn" + string(rune('a'+i)) + string(rune('A'+d%26)) + string(rune('0'+d/26))
		}
		stacks = append(stacks, stack)
		values = append(values, v)
	}
	prof := &googlev1.Profile{StringTable: []string{""}}
	locOf := map[string]uint64{}
	for i, stack := range stacks {
		sample := &googlev1.Sample{Value: []int64{values[i]}}
		for _, name := range stack {
			id, ok := locOf[name]
			if !ok {
				prof.StringTable = append(prof.StringTable, name)
				fn := &googlev1.Function{Id: uint64(len(prof.Function) + 1), Name: int64(len(prof.StringTable) - 1)}
				prof.Function = append(prof.Function, fn)
				id = uint64(len(prof.Location) + 1)
				prof.Location = append(prof.Location, &googlev1.Location{Id: id, Line: []*googlev1.Line{{FunctionId: fn.Id}}})
				locOf[name] = id
			}
			sample.LocationId = append(sample.LocationId, id)
		}
		prof.Sample = append(prof.Sample, sample)
	}
	p, nodeValues := profilePartition(t, prof)
	if err := b.AddPartition(p, nodeValues); err != nil {
		t.Fatal(err)
	}
	built := checkedBuild(t, b)
	if len(built.Sample) != len(values) {
		t.Fatalf("%d samples, want %d", len(built.Sample), len(values))
	}
}

// placeHead puts the head between what precedes it and the samples, the
// head smaller or larger than the room left for it.
func TestPlaceHead(t *testing.T) {
	samples := []byte("the samples")
	for _, types := range []int{1, 6} {
		head := &googlev1.Profile{}
		for i := range types {
			head.SampleType = append(head.SampleType, &googlev1.ValueType{Type: 1 << 40, Unit: int64(i) << 40})
		}
		want, err := proto.Marshal(head)
		if err != nil {
			t.Fatal(err)
		}
		if (len(want) > headRoom) != (types > 1) {
			t.Fatalf("%d sample types make a head of %d bytes: the test needs one within and one over %d", types, len(want), headRoom)
		}
		for _, prefix := range [][]byte{nil, []byte("prefix")} {
			out := append(bytes.Clone(prefix), make([]byte, headRoom)...)
			out = append(out, samples...)
			out = slices.Grow(out, max(len(want)-headRoom, 0))
			got, err := placeHead(out, len(prefix), proto.Size(head), head, proto.MarshalOptions{UseCachedSize: true})
			if err != nil {
				t.Fatal(err)
			}
			if w := slices.Concat(prefix, want, samples); !bytes.Equal(got, w) {
				t.Errorf("%d sample types after %q: got %q, want %q", types, prefix, got, w)
			}
		}
	}
}

// Every field of the tables after the samples is encoded as proto encodes
// it: mappings with and without each field, a folded location with an
// address and lines of negative, zero and large numbers, and functions
// with start lines; then truncated, with the stub's mapping.
func TestAppendEncodedTables(t *testing.T) {
	prof := &googlev1.Profile{
		StringTable: []string{"", "main", "main.go", "lib.so", "abc123", "inlined", "runtime.main", "proc.go"},
		Mapping: []*googlev1.Mapping{
			{Id: 1, MemoryStart: 0x400000, MemoryLimit: 1 << 40, FileOffset: 0x1000, Filename: 3, BuildId: 4,
				HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true},
			{Id: 2, MemoryLimit: 0x2000, HasLineNumbers: true},
		},
		Function: []*googlev1.Function{
			{Id: 1, Name: 1, SystemName: 1, Filename: 2, StartLine: 1 << 33},
			{Id: 2, Name: 5, Filename: 2, StartLine: -1},
			{Id: 3, Name: 6, SystemName: 6, Filename: 7},
		},
		Location: []*googlev1.Location{
			{Id: 1, MappingId: 1, Address: 0x401234, IsFolded: true, Line: []*googlev1.Line{{FunctionId: 2, Line: -7}, {FunctionId: 1, Line: 1 << 40}}},
			{Id: 2, MappingId: 2, Line: []*googlev1.Line{{FunctionId: 3}}},
			{Id: 3, Address: 1 << 63},
			{Id: 4, MappingId: 1, Line: []*googlev1.Line{{FunctionId: 2, Line: 3}}},
			{Id: 5, MappingId: 1, Line: []*googlev1.Line{{FunctionId: 1, Line: 9}}},
		},
		Sample: []*googlev1.Sample{
			{LocationId: []uint64{1, 2}, Value: []int64{3}},
			{LocationId: []uint64{3, 2}, Value: []int64{1 << 35}},
			{LocationId: []uint64{2}, Value: []int64{1}},
			{LocationId: []uint64{4, 5, 2}, Value: []int64{2}},
		},
	}
	pt := ProfileTypeInfo{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	for _, maxNodes := range []int64{0, 1} {
		b := NewProfileBuilder(pt, 1000, 5000)
		b.SetMaxNodes(maxNodes)
		p, nodeValues := profilePartition(t, prof)
		if err := b.AddPartition(p, nodeValues); err != nil {
			t.Fatal(err)
		}
		built := checkedBuild(t, b)
		if maxNodes != 0 {
			// The stub location, of the mapping 1, stands for the rest.
			if names := CanonicalView(built).Samples; !slices.ContainsFunc(names, func(s CanonicalSample) bool { return slices.Contains(s.Stack, "other") }) {
				t.Errorf("truncated to %d nodes, the profile has no stub: %v", maxNodes, names)
			}
			continue
		}
		{
			if len(built.Mapping) != 2 || len(built.Location) != 5 || len(built.Function) != 3 {
				t.Errorf("%d mappings, %d locations, %d functions; want 2, 5, 3", len(built.Mapping), len(built.Location), len(built.Function))
			}
			folded := 0
			for _, l := range built.Location {
				if l.IsFolded && l.Address == 0x401234 && len(l.Line) == 2 && l.Line[0].Line == -7 {
					folded++
				}
			}
			if folded != 1 {
				t.Errorf("the folded location with its address and lines is missing: %v", built.Location)
			}
		}
	}
}
