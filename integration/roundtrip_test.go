package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thanos-io/objstore/providers/filesystem"
	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/blockwriter"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// TestBlockWriterRoundTrip writes the pprof inputs of the shared test data
// with pkg/blockwriter, serves the bucket with the binary, and checks that
// SelectMergeProfile of every profile type gives the same stacks and values
// as merging the input profiles directly.
func TestBlockWriterRoundTrip(t *testing.T) {
	root := sharedTestdata(t)
	files, _ := filepath.Glob(filepath.Join(root, "pprof-inputs", "*"))
	if len(files) == 0 {
		t.Fatal("no pprof inputs")
	}
	var profiles []*googlev1.Profile
	for _, f := range files {
		profiles = append(profiles, readPprof(t, f))
	}
	roundTrip(t, profiles)
}

// TestBlockWriterRoundTripSynthetic does the same with generated profiles:
// random stacks over shared frames, inlined lines, several services and
// sample types. It needs no shared test data.
func TestBlockWriterRoundTripSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var profiles []*googlev1.Profile
	for range 40 {
		profiles = append(profiles, syntheticProfile(rng))
	}
	roundTrip(t, profiles)
}

func syntheticProfile(rng *rand.Rand) *googlev1.Profile {
	p := &googlev1.Profile{StringTable: []string{"", "cpu", "nanoseconds", "samples", "count"}}
	p.SampleType = []*googlev1.ValueType{{Type: 3, Unit: 4}, {Type: 1, Unit: 2}}
	p.PeriodType = &googlev1.ValueType{Type: 1, Unit: 2}
	p.Period = 10_000_000
	for f := 1; f <= 60; f++ {
		p.StringTable = append(p.StringTable, fmt.Sprintf("pkg%d.func%d", f%7, f))
		p.Function = append(p.Function, &googlev1.Function{Id: uint64(f), Name: int64(len(p.StringTable) - 1)})
		loc := &googlev1.Location{Id: uint64(f), Line: []*googlev1.Line{{FunctionId: uint64(f), Line: int64(f)}}}
		if f%9 == 0 { // inlined into the next function
			loc.Line = append(loc.Line, &googlev1.Line{FunctionId: uint64(f%60 + 1), Line: 1})
		}
		p.Location = append(p.Location, loc)
	}
	for range 200 {
		depth := 1 + rng.IntN(20)
		var ids []uint64
		for range depth {
			ids = append(ids, uint64(1+rng.IntN(60)))
		}
		n := rng.Int64N(5)
		p.Sample = append(p.Sample, &googlev1.Sample{LocationId: ids, Value: []int64{n, n * 10_000_000}})
	}
	return p
}

// roundTrip writes the profiles with blockwriter, one a minute, serves them
// and compares SelectMergeProfile of every type with a direct merge.
func roundTrip(t *testing.T, profiles []*googlev1.Profile) {
	bucketDir := t.TempDir()
	bkt, err := filesystem.NewBucket(bucketDir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := blockwriter.New(bkt, "anonymous", blockwriter.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// expected[profile type][leaf-first stack] = summed value
	expected := map[string]map[string]int64{}
	for i, p := range profiles {
		name, _ := blockwriter.GuessProfileName(p)
		labels := blockwriter.LabelsFromMap(map[string]string{"__name__": name, "service_name": "svc-" + fmt.Sprint(i%3)})
		if err := w.Add(labels, p, base.Add(time.Duration(i)*time.Minute).UnixNano()); err != nil {
			t.Fatalf("profile %d: %v", i, err)
		}
		mergeInto(expected, name, p)
	}
	if _, err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, bucketDir)
	start, end := base.UnixMilli(), base.Add(time.Duration(len(profiles))*time.Minute).UnixMilli()
	for pt, want := range expected {
		t.Run(pt, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"profileTypeID": pt, "labelSelector": "{}", "start": start, "end": end})
			r, _ := http.NewRequest(http.MethodPost, s.URL+"/querier.v1.QuerierService/SelectMergeProfile", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			st, _, resp := httpDo(t, r)
			if st != http.StatusOK {
				t.Fatalf("HTTP %d %s", st, resp)
			}
			got := map[string]int64{}
			for _, smp := range asSlice(field(canonicalOf(t, parseJSON(t, resp)), "samples")) {
				var frames []string
				for _, f := range asSlice(field(smp, "stack")) {
					frames = append(frames, f.(string))
				}
				got[strings.Join(frames, ";")] += int64(asSlice(field(smp, "values"))[0].(float64))
			}
			if len(got) != len(want) {
				t.Errorf("%d distinct stacks, want %d", len(got), len(want))
			}
			for stack, v := range want {
				if got[stack] != v {
					t.Errorf("stack %s: %d, want %d", clip(stack), got[stack], v)
				}
			}
		})
	}
}

// mergeInto adds a profile's positive sample values per leaf-first stack of
// function names (inlined lines expanded) to the totals of each of its
// sample types.
func mergeInto(expected map[string]map[string]int64, name string, p *googlev1.Profile) {
	str := func(i int64) string { return p.StringTable[i] }
	locs := map[uint64]*googlev1.Location{}
	for _, l := range p.Location {
		locs[l.Id] = l
	}
	fns := map[uint64]string{}
	for _, f := range p.Function {
		fns[f.Id] = str(f.Name)
	}
	var periodType, periodUnit string
	if p.PeriodType != nil {
		periodType, periodUnit = str(p.PeriodType.Type), str(p.PeriodType.Unit)
	}
	for ti, st := range p.SampleType {
		pt := strings.Join([]string{name, str(st.Type), str(st.Unit), periodType, periodUnit}, ":")
		if expected[pt] == nil {
			expected[pt] = map[string]int64{}
		}
		for _, smp := range p.Sample {
			v := smp.Value[ti]
			var frames []string
			for _, id := range smp.LocationId {
				for _, line := range locs[id].Line {
					frames = append(frames, fns[line.FunctionId])
				}
			}
			if v <= 0 || len(frames) == 0 {
				continue
			}
			expected[pt][strings.Join(frames, ";")] += v
		}
	}
	for pt, stacks := range expected {
		if len(stacks) == 0 {
			delete(expected, pt)
		}
	}
}

func readPprof(t *testing.T, path string) *googlev1.Profile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var p googlev1.Profile
	if err := proto.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &p
}
