package blockwriter_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/thanos-io/objstore"
	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/blockwriter"
	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	"github.com/cinder-profiling/cinder/pkg/symdb"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

const pprofInputsDir = "../../../shared/testdata/pprof-inputs"

// input is a profile given to the writer in a test.
type input struct {
	name    string
	labels  blockwriter.Labels
	profile *googlev1.Profile
	time    int64
}

// bucketFiles reads one block's files from a bucket.
type bucketFiles struct {
	bkt objstore.Bucket
	dir string
}

func (f bucketFiles) ReadFile(ctx context.Context, relPath string) ([]byte, error) {
	r, err := f.bkt.Get(ctx, f.dir+"/"+relPath)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (f bucketFiles) ReaderAt(ctx context.Context, relPath string) (io.ReaderAt, int64, error) {
	b, err := f.ReadFile(ctx, relPath)
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// stacks maps "root;…;leaf" to a value.
type stacks map[string]int64

func treeStacks(t *flamegraph.Tree) stacks {
	out := stacks{}
	t.IterateStacks(func(rootFirst []string, self int64) { out[strings.Join(rootFirst, ";")] += self })
	return out
}

// expectedStacks merges the inputs directly: per profile type ID, the
// function names of every sample root → leaf (inlined lines expanded),
// values summed per stack, as Pyroscope renders them.
func expectedStacks(inputs []input) map[string]stacks {
	trees := map[string]*flamegraph.Tree{}
	for _, in := range inputs {
		p := in.profile
		name, _ := in.labels.Get("__name__")
		fns := map[uint64]string{}
		for _, f := range p.Function {
			fns[f.Id] = p.StringTable[f.Name]
		}
		locs := map[uint64][]string{}
		for _, l := range p.Location {
			for _, ln := range l.Line { // innermost first
				locs[l.Id] = append(locs[l.Id], fns[ln.FunctionId])
			}
		}
		var period [2]string
		if pt := p.PeriodType; pt != nil {
			period = [2]string{p.StringTable[pt.Type], p.StringTable[pt.Unit]}
		}
		for ti, st := range p.SampleType {
			id := strings.Join([]string{name, p.StringTable[st.Type], p.StringTable[st.Unit], period[0], period[1]}, ":")
			tree := trees[id]
			if tree == nil {
				tree = flamegraph.NewTree()
				trees[id] = tree
			}
			for _, s := range p.Sample {
				var leafFirst []string
				for _, lid := range s.LocationId {
					leafFirst = append(leafFirst, locs[lid]...)
				}
				slices.Reverse(leafFirst)
				tree.InsertStack(s.Value[ti], leafFirst...)
			}
		}
	}
	out := map[string]stacks{}
	for id, tree := range trees {
		if s := treeStacks(tree); len(s) > 0 {
			out[id] = s
		}
	}
	return out
}

// readBack reads every block of tenant in bkt with blockreader and symdb
// and returns, per profile type ID, the merged stacks; it checks each
// block's structure on the way.
func readBack(t *testing.T, bkt objstore.Bucket, tenant string) (map[string]stacks, []*blockreader.Meta) {
	t.Helper()
	ctx := context.Background()
	trees := map[string]*flamegraph.Tree{}
	var metas []*blockreader.Meta
	err := bkt.Iter(ctx, tenant+"/phlaredb/", func(dir string) error {
		dir = strings.TrimSuffix(dir, "/")
		files := bucketFiles{bkt, dir}
		raw, err := files.ReadFile(ctx, "meta.json")
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		meta, err := blockreader.ParseMeta(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		metas = append(metas, meta)
		checkBlock(t, ctx, bkt, dir, meta, files, trees)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]stacks{}
	for id, tree := range trees {
		out[id] = treeStacks(tree)
	}
	return out, metas
}

func checkBlock(t *testing.T, ctx context.Context, bkt objstore.Bucket, dir string, meta *blockreader.Meta, files bucketFiles, trees map[string]*flamegraph.Tree) {
	t.Helper()
	fail := func(format string, args ...any) { t.Fatalf("block %s: "+format, append([]any{dir}, args...)...) }
	if got := filepath.Base(dir); got != meta.ULID.String() {
		fail("directory name != meta ulid %s", meta.ULID)
	}
	if meta.Version != 3 || meta.Compaction.Level != 1 || len(meta.Compaction.Sources) != 1 || meta.Compaction.Sources[0] != meta.ULID {
		fail("unexpected version/compaction: %+v", meta)
	}
	if !slices.IsSortedFunc(meta.Files, func(a, b blockreader.File) int { return strings.Compare(a.RelPath, b.RelPath) }) {
		fail("files not sorted by relPath")
	}
	for _, f := range meta.Files {
		attrs, err := bkt.Attributes(ctx, dir+"/"+f.RelPath)
		if err != nil {
			fail("%s: %v", f.RelPath, err)
		}
		if uint64(attrs.Size) != f.SizeBytes {
			fail("%s: sizeBytes %d, object has %d", f.RelPath, f.SizeBytes, attrs.Size)
		}
	}

	rawIndex, err := files.ReadFile(ctx, blockreader.IndexFilename)
	if err != nil {
		fail("%v", err)
	}
	idx, err := blockreader.NewIndexReader(rawIndex)
	if err != nil {
		fail("%v", err)
	}
	if err := idx.Validate(); err != nil {
		fail("index does not validate: %v", err)
	}
	refs, err := idx.AllPostings()
	if err != nil {
		fail("%v", err)
	}
	seriesByIndex := make([]blockreader.Series, len(refs))
	var prev blockreader.Labels
	for i, ref := range refs {
		var s blockreader.Series
		if err := idx.Series(ref, &s); err != nil {
			fail("series %d: %v", ref, err)
		}
		if int(s.SeriesIndex) != i {
			fail("series ref %d has SeriesIndex %d, want %d", ref, s.SeriesIndex, i)
		}
		checkSeriesLabels(t, s.Labels)
		if i > 0 && compareLabels(prev, s.Labels) >= 0 {
			fail("series %d not after series %d in label order", i, i-1)
		}
		prev = s.Labels
		seriesByIndex[i] = s
	}
	if uint64(len(refs)) != meta.Stats.NumSeries {
		fail("%d series, meta says %d", len(refs), meta.Stats.NumSeries)
	}

	ra, size, err := files.ReaderAt(ctx, blockreader.ProfilesFilename)
	if err != nil {
		fail("%v", err)
	}
	profiles, err := blockreader.OpenProfiles(ra, size)
	if err != nil {
		fail("%v", err)
	}
	if !profiles.HasTotalValue() || !profiles.HasPartition() {
		fail("profiles.parquet lacks TotalValue or StacktracePartition")
	}
	sel := blockreader.ProfileSelection{StartNanos: int64(meta.MinTime) * 1e6, EndNanos: int64(meta.MaxTime)*1e6 + 999_999}
	for i := range seriesByIndex {
		sel.SeriesIndexes = append(sel.SeriesIndexes, uint32(i))
	}
	sr, err := symdb.Open(ctx, meta, files)
	if err != nil {
		fail("symdb: %v", err)
	}
	if sr.Format() != 2 {
		fail("symdb format %d", sr.Format())
	}
	type acc struct {
		profileType string
		partition   uint64
	}
	nodeSelf := map[acc][]int64{}
	var rows, samples uint64
	lastSeries, lastTime := uint32(0), int64(0)
	err = profiles.Scan(ctx, sel, blockreader.AllProfileColumns, func(r *blockreader.ProfileRow) error {
		if rows > 0 && (r.SeriesIndex < lastSeries || r.SeriesIndex == lastSeries && r.TimeNanos < lastTime) {
			return fmt.Errorf("row %d out of (SeriesIndex, TimeNanos) order", r.RowNumber)
		}
		lastSeries, lastTime = r.SeriesIndex, r.TimeNanos
		rows++
		samples += uint64(len(r.StacktraceIDs))
		s := seriesByIndex[r.SeriesIndex]
		if r.TimeNanos < s.MinTime || r.TimeNanos > s.MaxTime {
			return fmt.Errorf("row %d at %d outside its series' range [%d, %d]", r.RowNumber, r.TimeNanos, s.MinTime, s.MaxTime)
		}
		if len(r.StacktraceIDs) == 0 {
			return fmt.Errorf("row %d has no samples", r.RowNumber)
		}
		var total uint64
		for i, id := range r.StacktraceIDs {
			if r.Values[i] <= 0 || i > 0 && id <= r.StacktraceIDs[i-1] || id == 0 {
				return fmt.Errorf("row %d: sample %d (%d, %d) not positive or not ascending", r.RowNumber, i, id, r.Values[i])
			}
			total += uint64(r.Values[i])
		}
		if total != r.TotalValue {
			return fmt.Errorf("row %d: TotalValue %d, samples sum to %d", r.RowNumber, r.TotalValue, total)
		}
		svc, _ := s.Labels.Get("service_name")
		if svc == "" {
			svc = "unknown"
		}
		if want := xxhash64(svc); r.Partition != want {
			return fmt.Errorf("row %d: partition %d, want xxhash(%q) = %d", r.RowNumber, r.Partition, svc, want)
		}
		pt, _ := s.Labels.Get("__profile_type__")
		part, err := sr.Partition(ctx, r.Partition)
		if err != nil {
			return err
		}
		k := acc{pt, r.Partition}
		ns := nodeSelf[k]
		if ns == nil {
			ns = make([]int64, part.Tree.Len())
			nodeSelf[k] = ns
		}
		for i, id := range r.StacktraceIDs {
			n, err := part.NodeOf(id)
			if err != nil || n < 0 {
				return fmt.Errorf("row %d: stack trace %d: node %d, %v", r.RowNumber, id, n, err)
			}
			ns[n] += r.Values[i]
		}
		return nil
	})
	if err != nil {
		fail("scan: %v", err)
	}
	if rows != uint64(profiles.NumRows()) || rows != meta.Stats.NumProfiles || samples != meta.Stats.NumSamples {
		fail("scan saw %d rows, %d samples; file has %d rows; meta says %d profiles, %d samples",
			rows, samples, profiles.NumRows(), meta.Stats.NumProfiles, meta.Stats.NumSamples)
	}
	for k, ns := range nodeSelf {
		part, _ := sr.Partition(ctx, k.partition)
		tree := trees[k.profileType]
		if tree == nil {
			tree = flamegraph.NewTree()
			trees[k.profileType] = tree
		}
		if err := tree.AddPartition(part, ns); err != nil {
			fail("%v", err)
		}
	}
}

// checkSeriesLabels checks the reserved labels of a series.
func checkSeriesLabels(t *testing.T, ls blockreader.Labels) {
	t.Helper()
	if !slices.IsSortedFunc(ls, func(a, b blockreader.Label) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("labels not sorted by name: %v", ls)
	}
	get := func(n string) string { v, _ := ls.Get(n); return v }
	want := strings.Join([]string{get("__name__"), get("__type__"), get("__unit__"), get("__period_type__"), get("__period_unit__")}, ":")
	if get("__profile_type__") != want || get("__name__") == "" || get("__type__") == "" {
		t.Fatalf("series %v: __profile_type__ should be %q", ls, want)
	}
	if get("__service_name__") != get("service_name") {
		t.Fatalf("series %v: __service_name__ is not a copy of service_name", ls)
	}
	for _, l := range ls {
		if l.Name == "__delta__" || l.Value == "" {
			t.Fatalf("series %v: label %s should have been dropped", ls, l.Name)
		}
	}
}

func compareLabels(a, b blockreader.Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func compareStacks(t *testing.T, want, got map[string]stacks) {
	t.Helper()
	for id, ws := range want {
		gs := got[id]
		if len(gs) != len(ws) {
			t.Errorf("%s: %d distinct stacks read back, want %d", id, len(gs), len(ws))
		}
		n := 0
		for s, v := range ws {
			if gs[s] != v {
				if n++; n <= 5 {
					t.Errorf("%s: stack %q = %d, want %d", id, s, gs[s], v)
				}
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected profile type %s read back", id)
		}
	}
}

// roundTrip writes inputs with window w and checks what reads back.
func roundTrip(t *testing.T, inputs []input, w time.Duration) []*blockreader.Meta {
	t.Helper()
	bkt := objstore.NewInMemBucket()
	wr, err := blockwriter.New(bkt, "anonymous", blockwriter.Options{Window: w, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		if err := wr.Add(in.labels, in.profile, in.time); err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
	}
	infos, err := wr.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, metas := readBack(t, bkt, "anonymous")
	if len(metas) != len(infos) {
		t.Fatalf("%d blocks in the bucket, Flush reported %d", len(metas), len(infos))
	}
	want := expectedStacks(inputs)
	if len(want) == 0 {
		t.Fatal("test inputs have no stacks")
	}
	compareStacks(t, want, got)
	// Every block spans exactly the inputs of its window.
	if w == 0 {
		w = blockwriter.DefaultWindow
	}
	for _, m := range metas {
		minMs, maxMs := int64(-1), int64(-1)
		for _, in := range inputs {
			ms := in.time / 1e6
			if ms/w.Milliseconds() != int64(m.MinTime)/w.Milliseconds() {
				continue
			}
			if minMs < 0 || ms < minMs {
				minMs = ms
			}
			maxMs = max(maxMs, ms)
		}
		if int64(m.MinTime) != minMs || int64(m.MaxTime) != maxMs {
			t.Errorf("block %s: meta time range [%d, %d], inputs span [%d, %d]", m.ULID, m.MinTime, m.MaxTime, minMs, maxMs)
		}
		if int64(m.ULID.Time())%w.Milliseconds() != 0 || int64(m.ULID.Time()) > minMs {
			t.Errorf("block %s: ULID time %d is not its window start", m.ULID, m.ULID.Time())
		}
	}
	return metas
}

func loadPprof(path string) (*googlev1.Profile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var p googlev1.Profile
	return &p, proto.Unmarshal(raw, &p)
}

func TestRoundTripPprofInputs(t *testing.T) {
	entries, err := os.ReadDir(pprofInputsDir)
	if err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var all []input
	for i, e := range entries {
		p, err := loadPprof(filepath.Join(pprofInputsDir, e.Name()))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		name, ok := blockwriter.GuessProfileName(p)
		if !ok {
			t.Fatalf("%s: cannot guess the profile name", e.Name())
		}
		svc := strings.SplitN(e.Name(), "_", 2)[0] // go, java, node
		in := input{
			name:    e.Name(),
			labels:  blockwriter.Labels{{"__name__", name}, {"service_name", svc}, {"file", e.Name()}},
			profile: p,
			time:    base + int64(i)*int64(7*time.Minute) + 123_456_789,
		}
		all = append(all, in)
		t.Run(e.Name(), func(t *testing.T) { roundTrip(t, []input{in}, 0) })
	}
	t.Run("all", func(t *testing.T) {
		metas := roundTrip(t, all, time.Hour)
		if len(metas) < 3 {
			t.Errorf("%d blocks for profiles over %s, want one per hour", len(metas), time.Duration(len(all))*7*time.Minute)
		}
	})
}

func xxhash64(s string) uint64 { return xxhash.Sum64String(s) }
