package pprofwire

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cinder-profiling/cinder/internal/repopath"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// fill sets every field of m, recursively, to random values that include
// zeros, negatives and empty lists, so that a field this package forgot
// (or one added to the proto later) shows up as a difference from
// proto.Marshal.
func fill(rng *rand.Rand, m protoreflect.Message, elems int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() {
			n := rng.IntN(elems + 1)
			if fd.Message() != nil && fd.Message().Name() == "Sample" && elems > 8 {
				n = elems // a profile's many samples
			}
			list := m.Mutable(fd).List()
			for range n {
				if fd.Message() != nil {
					v := list.NewElement()
					fill(rng, v.Message(), 4)
					list.Append(v)
				} else {
					list.Append(scalar(rng, fd))
				}
			}
			continue
		}
		if fd.Message() != nil {
			if rng.IntN(4) > 0 {
				fill(rng, m.Mutable(fd).Message(), 4)
			}
			continue
		}
		m.Set(fd, scalar(rng, fd))
	}
}

func scalar(rng *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	var v int64
	switch rng.IntN(4) {
	case 0: // zero: left out of the encoding
	case 1:
		v = rng.Int64N(100)
	case 2:
		v = -rng.Int64N(1 << 40)
	default:
		v = int64(rng.Uint64())
	}
	switch fd.Kind() {
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(v)
	case protoreflect.Uint64Kind:
		return protoreflect.ValueOfUint64(uint64(v))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(v != 0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(strings.Repeat("x", int(uint64(v)%20)))
	}
	panic(fmt.Sprintf("field %s: kind %v not generated", fd.FullName(), fd.Kind()))
}

func checkSame(t *testing.T, p *googlev1.Profile, procs int) {
	t.Helper()
	want, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("prefix")
	got, err := marshalAppend(bytes.Clone(prefix), p, procs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("dst's bytes overwritten")
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%d bytes, proto.Marshal %d; first difference at byte %d", len(got), len(want), i)
	}
}

func TestMarshalAppendSameAsProto(t *testing.T) {
	for _, samples := range []int{0, 1, 10, minParallelElements + 3*samplesPerSegment + 5} {
		for _, procs := range []int{1, 2, 7} {
			t.Run(fmt.Sprintf("samples=%d/procs=%d", samples, procs), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(samples), uint64(procs)))
				p := &googlev1.Profile{}
				fill(rng, p.ProtoReflect(), samples)
				checkSame(t, p, procs)
			})
		}
	}
}

// TestMarshalAppendLargeLists has more locations, functions and strings than
// a segment holds, so that those fields are split too.
func TestMarshalAppendLargeLists(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := &googlev1.Profile{}
	fill(rng, p.ProtoReflect(), 4)
	for i := range 3*messagesPerSegment + 1 {
		loc := &googlev1.Location{}
		fill(rng, loc.ProtoReflect(), 3)
		fn := &googlev1.Function{}
		fill(rng, fn.ProtoReflect(), 3)
		p.Location = append(p.Location, loc)
		p.Function = append(p.Function, fn)
		p.StringTable = append(p.StringTable, fmt.Sprint("s", i), "", "t")
	}
	checkSame(t, p, 3)
}

func TestMarshalAppendNilsAndUnknownFields(t *testing.T) {
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7)
	withUnknown := func(m proto.Message) proto.Message {
		m.ProtoReflect().SetUnknown(unknown)
		return m
	}
	tests := map[string]*googlev1.Profile{
		"nil sample":       {Sample: []*googlev1.Sample{{Value: []int64{1}}, nil, {LocationId: []uint64{3}}}},
		"nil label":        {Sample: []*googlev1.Sample{{Label: []*googlev1.Label{nil, {Key: 1}}}}},
		"unknown profile":  withUnknown(&googlev1.Profile{Sample: []*googlev1.Sample{{Value: []int64{1}}}}).(*googlev1.Profile),
		"unknown sample":   {Sample: []*googlev1.Sample{{Value: []int64{1}}, withUnknown(&googlev1.Sample{Value: []int64{2}}).(*googlev1.Sample)}},
		"unknown label":    {Sample: []*googlev1.Sample{{Label: []*googlev1.Label{withUnknown(&googlev1.Label{Num: 3}).(*googlev1.Label)}}}},
		"unknown location": {Location: []*googlev1.Location{withUnknown(&googlev1.Location{Id: 1}).(*googlev1.Location)}},
		"empty":            {},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) { checkSame(t, p, 2) })
	}
	if b, err := MarshalAppend(nil, nil); err != nil || len(b) != 0 {
		t.Fatalf("nil profile: %q, %v", b, err)
	}
}

// TestMarshalAppendPprofInputs encodes the real profiles of the shared test
// data.
func TestMarshalAppendPprofInputs(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(sharedTestdata(t), "pprof-inputs", "*"))
	if err != nil || len(paths) == 0 {
		t.Skipf("no shared pprof inputs (%v)", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
				if data, err = io.ReadAll(r); err != nil {
					t.Fatal(err)
				}
			}
			var p googlev1.Profile
			if err := proto.Unmarshal(data, &p); err != nil {
				t.Skipf("not a pprof profile: %v", err)
			}
			checkSame(t, &p, 2)
		})
	}
}

func sharedTestdata(t *testing.T) string {
	t.Helper()
	dir, err := repopath.SharedTestdata()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
