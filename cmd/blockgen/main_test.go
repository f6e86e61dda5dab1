package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/symdb"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// checkBucket opens every block of tenant under dir and returns how many
// there are and their total number of profiles.
func checkBucket(t *testing.T, dir, tenant string) (blocks, rows int) {
	t.Helper()
	ctx := context.Background()
	entries, err := os.ReadDir(filepath.Join(dir, tenant, "phlaredb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files := blockreader.DirFiles(filepath.Join(dir, tenant, "phlaredb", e.Name()))
		raw, err := files.ReadFile(ctx, "meta.json")
		if err != nil {
			t.Fatal(err)
		}
		meta, err := blockreader.ParseMeta(raw)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		rawIndex, err := files.ReadFile(ctx, "index.tsdb")
		if err != nil {
			t.Fatal(err)
		}
		idx, err := blockreader.NewIndexReader(rawIndex)
		if err != nil {
			t.Fatal(err)
		}
		if err := idx.Validate(); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		ra, size, err := files.ReaderAt(ctx, "profiles.parquet")
		if err != nil {
			t.Fatal(err)
		}
		pr, err := blockreader.OpenProfiles(ra, size)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := symdb.Open(ctx, meta, files)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, key := range sr.PartitionKeys() {
			if _, err := sr.Partition(ctx, key); err != nil {
				t.Fatalf("%s: partition %d: %v", e.Name(), key, err)
			}
		}
		blocks++
		rows += int(pr.NumRows())
	}
	return blocks, rows
}

func TestSynth(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"synth", "-bucket", dir, "-services", "2", "-pods-per-service", "2",
		"-hours", "2", "-profiles-per-hour", "4", "-distinct-stacks", "300", "-end", "2024-06-01T12:30:00Z"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	blocks, rows := checkBucket(t, dir, "anonymous")
	// 10:30 to 12:30: windows 10:00, 11:00 and 12:00; 8 ticks × 2 services
	// × 2 pods × (2 cpu + up to 4 memory rows).
	if blocks != 3 || rows < 8*2*2*4 {
		t.Errorf("%d blocks, %d rows\n%s", blocks, rows, stderr.String())
	}
	if !strings.Contains(stdout.String(), "wrote 3 blocks") {
		t.Errorf("summary: %q", stdout.String())
	}
}

func writePprof(t *testing.T, path string, p *googlev1.Profile, gz bool) {
	t.Helper()
	raw, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		raw = buf.Bytes()
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImport(t *testing.T) {
	svc := newSynthService(newTestRand(), 0, 8, 3, 50)
	src := t.TempDir()
	cpu, heap := filepath.Join(src, "cpu.pb.gz"), filepath.Join(src, "heap.pprof")
	writePprof(t, cpu, svc.profile(newTestRand(), kindCPU, 20, 1_717_000_000_000_000_000, 0), true)
	writePprof(t, heap, svc.profile(newTestRand(), kindMemory, 20, 1_717_000_100_000_000_000, 0), false)
	garbage := filepath.Join(src, "garbage.pprof")
	os.WriteFile(garbage, []byte("\x1f\x8bnot gzip"), 0o644)
	empty := filepath.Join(src, "empty.pprof")
	writePprof(t, empty, &googlev1.Profile{StringTable: []string{"", "cpu", "nanoseconds"}, SampleType: []*googlev1.ValueType{{Type: 1, Unit: 2}}}, false)

	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"import", "-bucket", dir, "-labels", "service_name=x,env=test", cpu, heap}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if blocks, rows := checkBucket(t, dir, "anonymous"); blocks != 1 || rows < 3 {
		t.Errorf("%d blocks, %d rows", blocks, rows)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-labels", "service.name=x", cpu}, `"service.name"`},
		{[]string{garbage}, "garbage.pprof"},
		{[]string{empty}, "empty.pprof: profile"},
		{[]string{filepath.Join(src, "missing.pprof")}, "missing.pprof"},
		{nil, "no pprof files"},
	} {
		err := run(context.Background(), append([]string{"import", "-bucket", t.TempDir()}, tc.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("import %q: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
