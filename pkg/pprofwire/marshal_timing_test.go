package pprofwire

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// benchProfile is shaped like the all-CPU merge of the bench bucket: 120k
// samples of ~14 locations, 26k locations and functions, 28k strings.
func benchProfile() *googlev1.Profile {
	rng := rand.New(rand.NewPCG(1, 1))
	const locations = 26_000
	p := &googlev1.Profile{
		SampleType: []*googlev1.ValueType{{Type: 1, Unit: 2}},
		PeriodType: &googlev1.ValueType{Type: 1, Unit: 2},
		Period:     10_000_000,
		TimeNanos:  1_795_273_200_000_000_000,
		Mapping:    []*googlev1.Mapping{{Id: 1, HasFunctions: true}},
	}
	for i := range 120_000 {
		ids := make([]uint64, 6+rng.IntN(16))
		for j := range ids {
			ids[j] = 1 + uint64(rng.IntN(locations))
		}
		p.Sample = append(p.Sample, &googlev1.Sample{LocationId: ids, Value: []int64{int64(1+i%50) * 10_000_000}})
	}
	for i := range locations {
		p.Location = append(p.Location, &googlev1.Location{Id: uint64(i + 1), MappingId: 1,
			Line: []*googlev1.Line{{FunctionId: uint64(i + 1), Line: int64(rng.IntN(2000))}}})
		p.Function = append(p.Function, &googlev1.Function{Id: uint64(i + 1), Name: int64(i + 1), SystemName: int64(i + 1), Filename: int64(rng.IntN(2000))})
	}
	for i := range 28_000 {
		p.StringTable = append(p.StringTable, fmt.Sprintf("github.com/example/service/pkg%d.(*Type).Method%d", i%300, i))
	}
	return p
}

func BenchmarkMarshal(b *testing.B) {
	p := benchProfile()
	size := proto.Size(p)
	b.Run("proto", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			var err error
			if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], p); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("pprofwire/procs=%d", procs), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				var err error
				if buf, err = marshalAppend(buf[:0], p, procs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
