package symdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// memFiles is a block held in memory, for synthetic and corrupted data.
type memFiles map[string][]byte

func (m memFiles) ReadFile(_ context.Context, relPath string) ([]byte, error) {
	b, ok := m[relPath]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: relPath, Err: fs.ErrNotExist}
	}
	return bytes.Clone(b), nil
}

func (m memFiles) ReaderAt(_ context.Context, relPath string) (io.ReaderAt, int64, error) {
	b, ok := m[relPath]
	if !ok {
		return nil, 0, &fs.PathError{Op: "open", Path: relPath, Err: fs.ErrNotExist}
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// metaOf lists the files of a memFiles block in a meta.json of the given
// version.
func metaOf(version int, files memFiles) *blockreader.Meta {
	m := &blockreader.Meta{Version: version}
	for p := range files {
		m.Files = append(m.Files, blockreader.File{RelPath: p, SizeBytes: uint64(len(files[p]))})
	}
	slices.SortFunc(m.Files, func(a, b blockreader.File) int { return strings.Compare(a.RelPath, b.RelPath) })
	return m
}

// idCase is the expected resolution of one stack-trace ID.
type idCase struct {
	id   uint64
	locs []int32 // leaf first; nil for the empty stack
	err  error
}

func checkIDs(t *testing.T, p *Partition, cases []idCase) {
	t.Helper()
	for _, c := range cases {
		got, err := p.AppendLocations(nil, c.id)
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("partition %d, ID %d: error %v, want %v", p.Key, c.id, err, c.err)
			continue
		}
		if !slices.Equal(got, c.locs) {
			t.Errorf("partition %d, ID %d: locations %v, want %v", p.Key, c.id, got, c.locs)
		}
	}
}

// TestSymdbSamples checks the facts block-format.md §12.5 lists for the
// three symdb-only samples.
func TestSymdbSamples(t *testing.T) {
	ctx := context.Background()

	t.Run("v1", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(sharedTestdata(t), symdbDir, "v1", indexSymdbName))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 420 || !bytes.Equal(raw[12:16], []byte{0x47, 0x25, 0x90, 0x65}) {
			t.Errorf("index is %d bytes with reserved bytes % x, want 420 bytes with an old header CRC", len(raw), raw[12:16])
		}
		r := openSymdbDir(t, "v1")
		if r.Format() != Format1 {
			t.Errorf("format %d, want 1", r.Format())
		}
		if keys := r.PartitionKeys(); !slices.Equal(keys, []uint64{0, 1}) {
			t.Fatalf("partitions %v, want [0 1]", keys)
		}
		for i := range r.index.partitions {
			ph := &r.index.partitions[i]
			if len(ph.chunks) != 3 {
				t.Fatalf("partition %d has %d chunks, want 3", ph.key, len(ph.chunks))
			}
			for j, c := range ph.chunks {
				if c.maxNodes != 7 || int(c.blockIndex) != j {
					t.Errorf("partition %d chunk %d: M %d, block index %d", ph.key, j, c.maxNodes, c.blockIndex)
				}
			}
			p, _, err := r.loadStacktraces(ctx, ph, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := ph.chunks[0].nodes; got != 4 {
				t.Errorf("chunk 0 has %d nodes, want 4", got)
			}
			parents, locs := p.Tree.AppendParents(nil), p.Tree.AppendLocations(nil)
			if !slices.Equal(parents[:4], []int32{-1, 0, 1, 2}) || !slices.Equal(locs[:4], []int32{0, 1, 2, 3}) {
				t.Errorf("chunk 0 is %v / %v, want (−1,0)(0,1)(1,2)(2,3)", parents[:4], locs[:4])
			}
			checkIDs(t, p, []idCase{
				{id: 0},
				{id: 1, locs: []int32{1}},
				{id: 3, locs: []int32{3, 2, 1}},
				{id: 7},                      // local 0: chunk 1's root
				{id: 8, locs: []int32{1}},    // chunk 1, node 1
				{id: 9, locs: []int32{2, 1}}, // chunk 1, node 2
				{id: 11, locs: []int32{4, 3, 2, 1}},
				{id: 13}, // chunk 1 has 5 nodes: local 6 is empty
				{id: 15, locs: []int32{1}},
				{id: 16, locs: []int32{3, 1}},
				{id: 18, locs: []int32{5, 2, 1}},
				{id: 21},                               // local 0 comes first, even past the last chunk
				{id: 22, err: ErrStacktraceOutOfRange}, // chunk 3 of 3
			})
		}
	})

	t.Run("v2", func(t *testing.T) {
		r := openSymdbDir(t, "v2")
		if r.Format() != Format2 {
			t.Errorf("format %d, want 2", r.Format())
		}
		if keys := r.PartitionKeys(); !slices.Equal(keys, []uint64{0, 1}) {
			t.Fatalf("partitions %v, want [0 1]", keys)
		}
		wantRanges := [2][numTables]rowRange{
			{tableLocations: {0, 0, 762}, tableMappings: {0, 0, 3}, tableFunctions: {0, 0, 507}, tableStrings: {0, 0, 701}},
			{tableLocations: {0, 762, 762}, tableMappings: {0, 3, 3}, tableFunctions: {0, 507, 507}, tableStrings: {0, 701, 701}},
		}
		for i, ph := range r.index.partitions {
			if len(ph.chunks) != 1 || ph.chunks[0].nodes != 1793 || ph.chunks[0].maxNodes != 1<<20 {
				t.Errorf("partition %d chunks %+v, want one of N=1793, M=1048576", ph.key, ph.chunks)
			}
			for tb := range ph.ranges {
				if len(ph.ranges[tb]) != 1 || ph.ranges[tb][0] != wantRanges[i][tb] {
					t.Errorf("partition %d %s ranges %v, want %v", ph.key, tableNames[tb], ph.ranges[tb], wantRanges[i][tb])
				}
			}
			p := mustPartition(t, r, ph.key)
			if len(p.Locations) != 762 || len(p.Mappings) != 3 || len(p.Functions) != 507 || len(p.Strings) != 701 || p.Strings[0] != "" {
				t.Errorf("partition %d tables %d/%d/%d/%d", ph.key, len(p.Locations), len(p.Mappings), len(p.Functions), len(p.Strings))
			}
			if f := mustFrames(t, p, 1); !slices.Equal(f, []string{"github.com/pyroscope-io/pyroscope/pkg/scrape.(*scrapeLoop).run"}) {
				t.Errorf("partition %d ID 1: %v", ph.key, f)
			}
		}
		// Both partitions hold the same profile.
		p0, p1 := mustPartition(t, r, 0), mustPartition(t, r, 1)
		for id := uint64(1); id < 1793; id++ {
			if f0, f1 := mustFrames(t, p0, id), mustFrames(t, p1, id); !slices.Equal(f0, f1) {
				t.Fatalf("ID %d differs between the partitions: %v and %v", id, f0, f1)
			}
		}
	})

	t.Run("v3", func(t *testing.T) {
		r := openSymdbDir(t, "v3")
		raw, err := os.ReadFile(filepath.Join(sharedTestdata(t), symdbDir, "v3", symbolsSymdbName))
		if err != nil {
			t.Fatal(err)
		}
		off, err := decodeFooter(raw[len(raw)-footerSize:], int64(len(raw)))
		if err != nil || len(raw) != 89300 || off != 88572 {
			t.Errorf("file of %d bytes, index at %d (%v), want 89300 and 88572", len(raw), off, err)
		}
		if keys := r.PartitionKeys(); !slices.Equal(keys, []uint64{0, 1}) {
			t.Fatalf("partitions %v, want [0 1]", keys)
		}
		for _, key := range r.PartitionKeys() {
			p := mustPartition(t, r, key)
			if len(p.Strings) != 699 || len(p.Mappings) != 3 || len(p.Functions) != 506 || len(p.Locations) != 718 {
				t.Errorf("partition %d tables: %d strings, %d mappings, %d functions, %d locations", key, len(p.Strings), len(p.Mappings), len(p.Functions), len(p.Locations))
			}
			m := p.Mappings[0]
			if p.Strings[m.Filename] != "/usr/bin/pyroscope" || !m.HasFunctions || m.HasFilenames || m.HasLineNumbers || m.HasInlineFrames {
				t.Errorf("mapping 0 is %+v (%q), want /usr/bin/pyroscope with flags 8", m, p.Strings[m.Filename])
			}
			if !slices.Equal(p.ids.chunkStart, []int32{0, 1004, 2005, 2319}) || p.ids.maxNodes != 1024 {
				t.Errorf("chunks start at %v with M %d, want N = 1004, 1001, 314 and M = 1024", p.ids.chunkStart, p.ids.maxNodes)
			}
			if d := p.DirectIDs(); d != 1004 {
				t.Errorf("DirectIDs %d, want 1004: the nodes of chunk 0", d)
			}
			for _, c := range []struct {
				id                int
				frames            int
				root, leaf        string
				wantEmpty, wantOK bool
			}{
				{id: 1, frames: 1, root: "github.com/pyroscope-io/pyroscope/pkg/agent.(*ProfileSession).takeSnapshots"},
				{id: 5, frames: 1, root: "net/http.(*conn).serve"},
				{id: 1023, wantEmpty: true}, // chunk 0 has only 1004 nodes
				{id: 1030, frames: 6, root: "github.com/pyroscope-io/pyroscope/pkg/scrape.(*scrapeLoop).run", leaf: "github.com/pyroscope-io/pyroscope/pkg/structs/transporttrie.(*trieNode).clone"},
				{id: 2100, frames: 13, root: "runtime.main", leaf: "github.com/dgraph-io/badger/v2.Open"},
			} {
				f := mustFrames(t, p, uint64(c.id))
				if c.wantEmpty {
					if len(f) != 0 {
						t.Errorf("partition %d ID %d: %v, want the empty stack", key, c.id, f)
					}
					continue
				}
				if c.leaf == "" {
					c.leaf = c.root
				}
				if len(f) != c.frames || f[0] != c.root || f[len(f)-1] != c.leaf {
					t.Errorf("partition %d ID %d: %d frames %v, want %d from %s to %s", key, c.id, len(f), f, c.frames, c.root, c.leaf)
				}
			}
			if _, err := p.NodeOf(3*1024 + 1); !errors.Is(err, ErrStacktraceOutOfRange) {
				t.Errorf("ID 3073: %v, want ErrStacktraceOutOfRange", err)
			}
		}
	})
}

// frameCase is one stack of the worked examples of block-format.md §12.
type frameCase struct {
	id     uint64
	frames []string // the whole stack, root first, when short
	count  int      // else the number of frames
	first  string
	last   string
}

func TestWorkedExamples(t *testing.T) {
	const (
		regexpInst = "regexp/syntax.(*compiler).inst"
		chanrecv1  = "runtime.chanrecv1"
	)
	doInit := func(n int) []string { return slices.Repeat([]string{"runtime.doInit"}, n) }
	cases := []struct {
		name  string
		block string
		key   uint64
		stack []frameCase
	}{
		{
			name: "12.1 meta v1", block: "01GR3QABQB6J30Q04K4E6MAKRE", key: 0,
			stack: []frameCase{
				{id: 0, frames: slices.Concat([]string{"runtime.main"}, doInit(7), []string{
					"github.com/tencentyun/cos-go-sdk-v5.init", "regexp.MustCompile", "regexp.Compile", "regexp.compile",
					"regexp/syntax.Compile", "regexp/syntax.(*compiler).compile", "regexp/syntax.(*compiler).compile",
					"regexp/syntax.(*compiler).rune", regexpInst})},
				{id: 1, frames: []string{"runtime.mcall", "runtime.park_m", "runtime.schedule", "runtime.resetspinning",
					"runtime.wakep", "runtime.startm", "runtime.newm", "runtime.allocm"}},
				{id: 2, frames: slices.Concat([]string{"runtime.main"}, doInit(5), []string{
					"internal/profile.init", "regexp.MustCompile", "regexp.Compile", "regexp.compile",
					"regexp.compileOnePass", "regexp.onePassCopy"})},
				{id: 4, frames: []string{"runtime.systemstack", "runtime.newproc.func1", "runtime.newproc1", "runtime.malg"}},
			},
		},
		{
			name: "12.2 meta v2, symdb format 1", block: "01H3YE0W63FNXM69N2WVTRBYYK", key: 11628947081572311966,
			stack: []frameCase{
				{id: 2830, count: 28, first: "runtime.main", last: chanrecv1},
				{id: 2828, count: 31, first: "runtime.main", last: chanrecv1},
				{id: 2825, count: 13, first: "runtime.main", last: "runtime.chanrecv2"},
				{id: 2819, frames: []string{"golang.org/x/net/http2.(*ClientConn).readLoop", "golang.org/x/net/http2.(*clientConnReadLoop).run",
					"golang.org/x/net/http2.(*clientConnReadLoop).processSettings", "sync.(*Mutex).Lock"}},
			},
		},
		{
			name: "12.3 meta v3, symdb format 2", block: "01HA2V3CPSZ9E0HMQNNHH89WSS", key: 16008627246773262042,
			stack: []frameCase{
				{id: 25, frames: []string{"google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run", "runtime.selectgo"}},
				{id: 52, count: 9, first: "github.com/grafana/dskit/services.(*BasicService).main", last: "runtime.selectgo"},
				{id: 108, frames: []string{"google.golang.org/grpc/internal/transport.newHTTP2Client.func6",
					"google.golang.org/grpc/internal/transport.(*loopyWriter).run",
					"google.golang.org/grpc/internal/transport.(*controlBuffer).get", "runtime.selectgo"}},
				{id: 111, frames: []string{"github.com/grafana/dskit/services.(*BasicService).AddListener.func1", "runtime.chanrecv2"}},
				{id: 194, frames: []string{"github.com/grafana/pyroscope-go/upstream/remote.(*Remote).handleJobs", "runtime.selectgo"}},
			},
		},
		{
			name: "12.4 meta v3, symdb format 2 (tiny)", block: "01HD3X85G9BGAG4S3TKPNMFG4Z", key: 10671237351553527577,
			stack: []frameCase{{id: 3, frames: []string{"baz", "bar", "foo"}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := openTestBlock(t, blockByULID(t, c.block))
			p := mustPartition(t, r, c.key)
			for _, s := range c.stack {
				f := mustFrames(t, p, s.id)
				switch {
				case s.frames != nil:
					if !slices.Equal(f, s.frames) {
						t.Errorf("stack %d:\n got %q\nwant %q", s.id, f, s.frames)
					}
				case len(f) != s.count || f[0] != s.first || f[len(f)-1] != s.last:
					t.Errorf("stack %d: %d frames from %q to %q, want %d from %q to %q", s.id, len(f), f[0], f[len(f)-1], s.count, s.first, s.last)
				}
			}
		})
	}

	t.Run("12.1 locations and inlining", func(t *testing.T) {
		p := mustPartition(t, openTestBlock(t, blockByULID(t, "01GR3QABQB6J30Q04K4E6MAKRE")), 0)
		checkIDs(t, p, []idCase{
			{id: 0, locs: []int32{5, 24, 8, 11, 12, 4, 25, 0, 1, 1, 1, 1, 1, 1, 2}},
			{id: 1, locs: []int32{66, 67, 68, 69, 70, 71, 72, 73}},
			{id: 2, locs: []int32{13, 14, 3, 4, 60, 0, 1, 1, 1, 1, 2}},
			{id: 4, locs: []int32{104, 105, 106, 107}},
			{id: 24, err: ErrStacktraceOutOfRange}, // 24 rows
		})
		if n := len(p.Locations[5].Lines); n != 2 {
			t.Errorf("location 5 has %d lines, want 2 (inst inlined into rune)", n)
		}
	})
}

// TestOpenAllBlocks loads every partition of every shared block and walks
// every stack-trace ID of it.
func TestOpenAllBlocks(t *testing.T) {
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			r := openTestBlock(t, b)
			if r.Format() != b.format {
				t.Errorf("format %d, want %d", r.Format(), b.format)
			}
			for _, key := range r.PartitionKeys() {
				p := mustPartition(t, r, key)
				if again := mustPartition(t, r, key); again != p {
					t.Errorf("partition %d was loaded twice", key)
				}
				if len(p.Strings) == 0 || p.Strings[0] != "" {
					t.Errorf("partition %d: string 0 is not empty", key)
				}
				walkAllIDs(t, p)
			}
		})
	}
}

// walkAllIDs resolves every ID of a partition, which must not fail, and
// checks that the tree agrees with NodeOf.
func walkAllIDs(t *testing.T, p *Partition) {
	t.Helper()
	var ids []uint64
	if p.ids.rowMode {
		for id := range p.ids.leafOfRow {
			ids = append(ids, uint64(id))
		}
	} else {
		for k := 0; k < p.NumStacktraceChunks(); k++ {
			n := uint64(p.ids.chunkStart[k+1] - p.ids.chunkStart[k])
			for local := uint64(0); local < n; local++ {
				ids = append(ids, uint64(k)*p.ids.maxNodes+local)
			}
		}
	}
	direct := p.DirectIDs()
	if direct > uint64(p.Tree.Len()) || (p.ids.rowMode && direct != 0) {
		t.Fatalf("partition %d: DirectIDs %d of %d nodes", p.Key, direct, p.Tree.Len())
	}
	for id := uint64(1); id < direct; id++ {
		if node, err := p.NodeOf(id); err != nil || uint64(node) != id {
			t.Fatalf("partition %d: ID %d is below DirectIDs %d but resolves to node %d (%v)", p.Key, id, direct, node, err)
		}
	}
	var buf []int32
	for _, id := range ids {
		node, err := p.NodeOf(id)
		if err != nil {
			t.Fatalf("partition %d, ID %d: %v", p.Key, id, err)
		}
		buf, err = p.AppendLocations(buf[:0], id)
		if err != nil {
			t.Fatalf("partition %d, ID %d: %v", p.Key, id, err)
		}
		depth := 0
		for n := node; n >= 0 && p.Tree.Parent(n) >= 0; n = p.Tree.Parent(n) {
			depth++
		}
		if depth != len(buf) {
			t.Fatalf("partition %d, ID %d: %d locations, depth %d", p.Key, id, len(buf), depth)
		}
		for _, l := range buf {
			for _, line := range p.Locations[l].Lines {
				_ = p.Strings[p.Functions[line.FunctionID].Name]
			}
		}
	}
}

func TestMetaV1IgnoresKey(t *testing.T) {
	r := openTestBlock(t, blockByULID(t, "01GR3QABQB6J30Q04K4E6MAKRE"))
	if keys := r.PartitionKeys(); !slices.Equal(keys, []uint64{0}) {
		t.Errorf("keys %v, want [0]", keys)
	}
	p0 := mustPartition(t, r, 0)
	if p := mustPartition(t, r, 11628947081572311966); p != p0 || p.Key != 0 {
		t.Errorf("key ignored: got partition %p (key %d), want %p", p, p.Key, p0)
	}
	if n, err := p0.NodeOf(0); err != nil || n < 0 {
		t.Errorf("ID 0 is node %d (%v); it is a real stack in meta v1", n, err)
	}
	if p0.NumStacktraceChunks() != 0 {
		t.Errorf("meta v1 has %d chunks", p0.NumStacktraceChunks())
	}
}

func TestPartitionNotFound(t *testing.T) {
	for _, b := range []testBlock{blockByULID(t, "01H3YE0W63FNXM69N2WVTRBYYK"), blockByULID(t, "01HD3X85G9BGAG4S3TKPNMFG4Z")} {
		r := openTestBlock(t, b)
		_, err := r.Partition(context.Background(), 42)
		if !errors.Is(err, ErrPartitionNotFound) || !strings.Contains(err.Error(), "symbols/index.symdb") {
			t.Errorf("block %s: %v, want ErrPartitionNotFound naming symbols/index.symdb", b.ulid, err)
		}
	}
	r := openSymdbDir(t, "v3")
	if _, err := r.Partition(context.Background(), 7); !errors.Is(err, ErrPartitionNotFound) || !strings.Contains(err.Error(), symbolsSymdbName) {
		t.Errorf("symbols.symdb: %v", err)
	}
}

func TestOpenMissingFiles(t *testing.T) {
	tiny := map[string]string{}
	for _, name := range []string{"symbols/index.symdb", "symbols/stacktraces.symdb", "symbols/locations.parquet",
		"symbols/mappings.parquet", "symbols/functions.parquet", "symbols/strings.parquet"} {
		tiny[name] = name
	}
	cases := []struct {
		name    string
		version int
		files   []string
		want    string
	}{
		{"v1 without stacktraces.parquet", 1, []string{"locations.parquet", "functions.parquet", "mappings.parquet", "strings.parquet"}, "stacktraces.parquet"},
		{"v1 without strings", 1, []string{"stacktraces.parquet", "locations.parquet", "functions.parquet", "mappings.parquet"}, "strings.parquet"},
		{"v2 without index", 2, []string{"symbols/stacktraces.symdb", "locations.parquet", "functions.parquet", "mappings.parquet", "strings.parquet"}, "index.symdb"},
		{"v3 without stacktraces", 3, []string{"symbols/index.symdb", "symbols/locations.parquet", "symbols/functions.parquet", "symbols/mappings.parquet", "symbols/strings.parquet"}, "stacktraces.symdb"},
		{"v3 without locations", 3, []string{"symbols/index.symdb", "symbols/stacktraces.symdb", "symbols/functions.parquet", "symbols/mappings.parquet", "symbols/strings.parquet"}, "locations.parquet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := memFiles{}
			for _, f := range c.files {
				files[f] = nil
			}
			_, err := Open(context.Background(), metaOf(c.version, files), files)
			if !errors.Is(err, ErrMissingFile) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v, want ErrMissingFile naming %s", err, c.want)
			}
		})
	}
	t.Run("symbols.symdb listed but absent", func(t *testing.T) {
		files := memFiles{"symbols.symdb": nil}
		meta := metaOf(3, files)
		delete(files, "symbols.symdb")
		_, err := Open(context.Background(), meta, files)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "symbols.symdb") {
			t.Errorf("Open: %v", err)
		}
	})
}

// countingCache is a PartitionCache that keeps nothing and counts adds, so
// every Partition call loads.
type countingCache struct {
	mu   sync.Mutex
	adds map[uint64]int
}

func (c *countingCache) Get(uint64) (*Partition, bool) { return nil, false }

func (c *countingCache) Add(key uint64, _ *Partition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.adds[key]++
}

func TestPartitionCacheOption(t *testing.T) {
	cache := &countingCache{adds: map[uint64]int{}}
	r := openTestBlock(t, blockByULID(t, "01HA2V3CPSZ9E0HMQNNHH89WSS"), WithPartitionCache(cache))
	key := r.PartitionKeys()[1]
	p1, p2 := mustPartition(t, r, key), mustPartition(t, r, key)
	if p1 == p2 || cache.adds[key] != 2 {
		t.Errorf("a cache that keeps nothing: same partition %v, %d adds, want a reload", p1 == p2, cache.adds[key])
	}
}

// TestConcurrentPartitions loads the partitions of a medium block from many
// goroutines; run with -race.
func TestConcurrentPartitions(t *testing.T) {
	r := openTestBlock(t, blockByULID(t, "01M7ZKZGFHVR6271E3X0RSYZC6"))
	keys := r.PartitionKeys()
	got := make([][]*Partition, 8)
	var wg sync.WaitGroup
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := keys[(i+g)%len(keys)]
				p, err := r.Partition(context.Background(), k)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], p)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]*Partition{}
	for _, ps := range got {
		for _, p := range ps {
			if q, ok := seen[p.Key]; ok && q != p {
				t.Fatalf("partition %d was loaded more than once", p.Key)
			}
			seen[p.Key] = p
		}
	}
}

func TestPartitionCanceledContext(t *testing.T) {
	r := openTestBlock(t, blockByULID(t, "01HA2V3CPSZ9E0HMQNNHH89WSS"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Partition(ctx, r.PartitionKeys()[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
	// A failed load is not remembered.
	mustPartition(t, r, r.PartitionKeys()[0])
}

func TestPartitionSizeBytes(t *testing.T) {
	r := openTestBlock(t, blockByULID(t, "01HD3X85G9BGAG4S3TKPNMFG4Z"))
	p := mustPartition(t, r, r.PartitionKeys()[0])
	if n := p.SizeBytes(); n < 100 || n > 10000 {
		t.Errorf("tiny partition SizeBytes %d", n)
	}
}

func TestFormat3RoundTrip(t *testing.T) {
	cases := []struct {
		name      string
		maxNodes  int
		blockSize int
		parts     int
	}{
		{"one chunk, one block", 1 << 20, 1024, 1},
		{"many chunks, many blocks", 40, 7, 3},
		{"blocks of one item", 64, 1, 2},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := newRand(uint64(i))
			var parts []testPartition
			for k := 0; k < c.parts; k++ {
				parts = append(parts, randomPartition(rng, uint64(k)*7919+3, 30+rng.IntN(30), 80))
			}
			file, ids := encodeFormat3(parts, c.maxNodes, c.blockSize)
			files := memFiles{"symbols.symdb": file}
			r, err := Open(context.Background(), metaOf(3, files), files)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != Format3 {
				t.Fatalf("format %d", r.Format())
			}
			for k, want := range parts {
				p := mustPartition(t, r, want.key)
				checkTables(t, p, &want.tables)
				for s, id := range ids[k] {
					got, err := p.AppendLocations(nil, id)
					if err != nil || !slices.Equal(got, want.stacks[s]) {
						t.Fatalf("partition %d stack %d (ID %d): %v %v, want %v", want.key, s, id, got, err, want.stacks[s])
					}
				}
			}
		})
	}
}

// checkTables compares decoded tables with what was written. Empty and nil
// line lists are equal.
func checkTables(t *testing.T, p *Partition, want *symbolTables) {
	t.Helper()
	if !slices.Equal(p.Strings, want.strings) {
		t.Errorf("strings differ")
	}
	if !slices.Equal(p.Functions, want.functions) {
		t.Errorf("functions differ:\n got %v\nwant %v", p.Functions, want.functions)
	}
	if !slices.Equal(p.Mappings, want.mappings) {
		t.Errorf("mappings differ:\n got %v\nwant %v", p.Mappings, want.mappings)
	}
	if len(p.Locations) != len(want.locations) {
		t.Fatalf("%d locations, want %d", len(p.Locations), len(want.locations))
	}
	for i, l := range p.Locations {
		w := want.locations[i]
		if l.MappingID != w.MappingID || l.Address != w.Address || l.IsFolded != w.IsFolded || !slices.Equal(l.Lines, w.Lines) {
			t.Errorf("location %d: got %+v, want %+v", i, l, w)
		}
	}
}

// TestFormat2RowRanges writes parquet tables with several row groups and
// partitions whose row ranges cross them, and reads them back.
func TestFormat2RowRanges(t *testing.T) {
	rng := newRand(7)
	parts := []testPartition{
		randomPartition(rng, 11, 40, 60),
		randomPartition(rng, 22, 25, 30),
		randomPartition(rng, 33, 1, 1),
	}
	parts[2].tables.locations[0].Lines = nil // a location without lines
	parts[2].tables.locations[0].IsFolded = true

	// Concatenate the tables; split each partition's rows into two ranges
	// when they cross a row-group boundary.
	const rowsPerGroup = 16
	var all symbolTables
	var ranges [][numTables][]rowRange
	for _, p := range parts {
		var rr [numTables][]rowRange
		for tb, n := range []int{tableLocations: len(p.tables.locations), tableMappings: len(p.tables.mappings),
			tableFunctions: len(p.tables.functions), tableStrings: len(p.tables.strings)} {
			start := [numTables]int{len(all.locations), len(all.mappings), len(all.functions), len(all.strings)}[tb]
			for lo := start; lo < start+n; {
				hi := min(start+n, (lo/rowsPerGroup+1)*rowsPerGroup)
				rr[tb] = append(rr[tb], rowRange{rowGroup: uint32(lo / rowsPerGroup), index: uint32(lo % rowsPerGroup), rows: uint32(hi - lo)})
				lo = hi
			}
		}
		ranges = append(ranges, rr)
		all.locations = append(all.locations, p.tables.locations...)
		all.mappings = append(all.mappings, p.tables.mappings...)
		all.functions = append(all.functions, p.tables.functions...)
		all.strings = append(all.strings, p.tables.strings...)
	}
	locs, fns, mps, strs := parquetTablesOf(&all)
	files := memFiles{
		"symbols/locations.parquet": writeParquet(t, locs, rowsPerGroup),
		"symbols/functions.parquet": writeParquet(t, fns, rowsPerGroup),
		"symbols/mappings.parquet":  writeParquet(t, mps, rowsPerGroup),
		"symbols/strings.parquet":   writeParquet(t, strs, rowsPerGroup),
	}
	var stacktraces, index []byte
	index = binary.BigEndian.AppendUint32(index, uint32(len(parts)))
	var ids [][]uint64
	for k, p := range parts {
		trees, pids := chunkTrees(p.stacks, 1<<20)
		ids = append(ids, pids)
		index = binary.BigEndian.AppendUint64(index, p.key)
		index = binary.BigEndian.AppendUint32(index, uint32(len(trees)))
		for _, rr := range ranges[k] {
			index = binary.BigEndian.AppendUint32(index, uint32(len(rr)))
		}
		for _, tr := range trees {
			data := encodeTree(tr[0], tr[1])
			index = putChunkHeader(index, chunkHeader{offset: uint64(len(stacktraces)), size: uint64(len(data)), partition: p.key,
				encoding: 1, nodes: uint32(len(tr[0])), maxNodes: 1 << 20, crc: crc(data)})
			stacktraces = append(stacktraces, data...)
		}
		for _, rr := range ranges[k] {
			for _, r := range rr {
				index = binary.BigEndian.AppendUint32(index, r.rowGroup)
				index = binary.BigEndian.AppendUint32(index, r.index)
				index = binary.BigEndian.AppendUint32(index, r.rows)
			}
		}
	}
	files["symbols/index.symdb"] = encodeIndex(Format2, index)
	files["symbols/stacktraces.symdb"] = stacktraces

	r, err := Open(context.Background(), metaOf(3, files), files)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != Format2 {
		t.Fatalf("format %d", r.Format())
	}
	for k, want := range parts {
		if len(ranges[k][tableLocations]) < 2 && k < 2 {
			t.Fatalf("partition %d: test data does not cross a row group: %v", want.key, ranges[k][tableLocations])
		}
		p := mustPartition(t, r, want.key)
		checkTables(t, p, &want.tables)
		for s, id := range ids[k] {
			got, err := p.AppendLocations(nil, id)
			if err != nil || !slices.Equal(got, want.stacks[s]) {
				t.Fatalf("partition %d stack %d: %v %v, want %v", want.key, s, got, err, want.stacks[s])
			}
		}
	}
}

// TestMetaV1Synthetic checks stacktraces.parquet handling: ID 0 is a stack,
// an empty list is the empty stack, and shared prefixes share nodes.
func TestMetaV1Synthetic(t *testing.T) {
	rng := newRand(3)
	p := randomPartition(rng, 0, 20, 0)
	locs, fns, mps, strs := parquetTablesOf(&p.tables)
	stacks := []parquetStacktrace{
		{ID: 0, LocationIDs: []uint64{3, 2, 1}},
		{ID: 1, LocationIDs: []uint64{4, 2, 1}},
		{ID: 2, LocationIDs: nil},
		{ID: 3, LocationIDs: []uint64{19}},
		{ID: 4, LocationIDs: []uint64{2, 1}},
	}
	files := memFiles{
		"stacktraces.parquet": writeParquet(t, stacks, 2),
		"locations.parquet":   writeParquet(t, locs, 7),
		"functions.parquet":   writeParquet(t, fns, 100),
		"mappings.parquet":    writeParquet(t, mps, 100),
		"strings.parquet":     writeParquet(t, strs, 100),
	}
	r, err := Open(context.Background(), metaOf(1, files), files)
	if err != nil {
		t.Fatal(err)
	}
	part := mustPartition(t, r, 0)
	checkTables(t, part, &p.tables)
	checkIDs(t, part, []idCase{
		{id: 0, locs: []int32{3, 2, 1}},
		{id: 1, locs: []int32{4, 2, 1}},
		{id: 2},
		{id: 3, locs: []int32{19}},
		{id: 4, locs: []int32{2, 1}},
		{id: 5, err: ErrStacktraceOutOfRange},
	})
	if part.Tree.Len() != 6 { // root, 1, 2, 3, 4, 19
		t.Errorf("%d nodes, want 6: shared prefixes must share nodes", part.Tree.Len())
	}

	t.Run("location out of range", func(t *testing.T) {
		bad := maps.Clone(files)
		bad["stacktraces.parquet"] = writeParquet(t, []parquetStacktrace{{LocationIDs: []uint64{20}}}, 10)
		r, err := Open(context.Background(), metaOf(1, bad), bad)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Partition(context.Background(), 0)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "stacktraces.parquet") {
			t.Errorf("got %v, want ErrCorrupt naming stacktraces.parquet", err)
		}
	})
}

// TestFormat1Synthetic is a meta v2 block: partitioned trees over the
// block-global root tables, which all partitions share.
func TestFormat1Synthetic(t *testing.T) {
	rng := newRand(5)
	p := randomPartition(rng, 0, 30, 40)
	locs, fns, mps, strs := parquetTablesOf(&p.tables)
	files := memFiles{
		"locations.parquet": writeParquet(t, locs, 10),
		"functions.parquet": writeParquet(t, fns, 100),
		"mappings.parquet":  writeParquet(t, mps, 100),
		"strings.parquet":   writeParquet(t, strs, 100),
	}
	var stacktraces, headers []byte
	var ids [2][]uint64
	for k, key := range []uint64{5, 9} {
		trees, pids := chunkTrees(p.stacks[k*20:k*20+20], 16)
		ids[k] = pids
		for i, tr := range trees {
			data := encodeTree(tr[0], tr[1])
			headers = putChunkHeader(headers, chunkHeader{offset: uint64(len(stacktraces)), size: uint64(len(data)), partition: key,
				blockIndex: uint16(i), encoding: 1, nodes: uint32(len(tr[0])), maxNodes: 16, crc: crc(data)})
			stacktraces = append(stacktraces, data...)
		}
	}
	files["symbols/index.symdb"] = encodeIndex(Format1, headers)
	files["symbols/stacktraces.symdb"] = stacktraces
	r, err := Open(context.Background(), metaOf(2, files), files)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != Format1 || !slices.Equal(r.PartitionKeys(), []uint64{5, 9}) {
		t.Fatalf("format %d, keys %v", r.Format(), r.PartitionKeys())
	}
	p5, p9 := mustPartition(t, r, 5), mustPartition(t, r, 9)
	if &p5.Locations[0] != &p9.Locations[0] {
		t.Error("partitions do not share the root tables")
	}
	checkTables(t, p5, &p.tables)
	for k, part := range []*Partition{p5, p9} {
		if part.NumStacktraceChunks() < 2 {
			t.Errorf("partition %d has %d chunks; the test wants several", part.Key, part.NumStacktraceChunks())
		}
		for s, id := range ids[k] {
			got, err := part.AppendLocations(nil, id)
			if err != nil || !slices.Equal(got, p.stacks[k*20+s]) {
				t.Fatalf("partition %d stack %d: %v %v", part.Key, s, got, err)
			}
		}
	}
}

func TestNoChunks(t *testing.T) {
	p := &Partition{Key: 1}
	if n, err := p.NodeOf(0); n != -1 || err != nil {
		t.Errorf("ID 0 of a partition without chunks: %d %v", n, err)
	}
	if _, err := p.NodeOf(1); !errors.Is(err, ErrStacktraceOutOfRange) {
		t.Errorf("ID 1 of a partition without chunks: %v", err)
	}
}

// TestReaderRetains loads every partition of a format 2 block through a
// Reader that keeps none of them, as after an LRU dropped them all, and
// checks what the Reader itself keeps alive: its index, parquet footers and
// page layouts, not a decoded string dictionary (450 KB for this block).
func TestReaderRetains(t *testing.T) {
	bl := blockByULID(t, "01M7ZKZGFHVR6271E3X0RSYZC6")
	var before, after runtime.MemStats
	// Twice: what sync.Pools hold survives one collection.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := openTestBlock(t, bl, WithPartitionCache(noCache{}))
	for _, k := range r.PartitionKeys() {
		mustPartition(t, r, k)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("the Reader keeps %d bytes", kept)
	if kept > 128<<10 {
		t.Errorf("the Reader keeps %d bytes once its partitions are dropped", kept)
	}
	runtime.KeepAlive(r)
}

// sizingCache keeps every partition and the size it had when added.
type sizingCache struct {
	mu    sync.Mutex
	parts map[uint64]*Partition
	sizes map[uint64]int64
}

func (c *sizingCache) Get(key uint64) (*Partition, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.parts[key]
	return p, ok
}

func (c *sizingCache) Add(key uint64, p *Partition) {
	size := p.SizeBytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parts[key], c.sizes[key] = p, size
}

// derivedBlob is a derived value with a size.
type derivedBlob struct{ n int64 }

func (d derivedBlob) SizeBytes() int64 { return d.n }

func TestDerivedValuesAreSized(t *testing.T) {
	cache := &sizingCache{parts: map[uint64]*Partition{}, sizes: map[uint64]int64{}}
	r := openTestBlock(t, blockByULID(t, "01HA2V3CPSZ9E0HMQNNHH89WSS"), WithPartitionCache(cache))
	key := r.PartitionKeys()[0]
	p := mustPartition(t, r, key)
	base := p.SizeBytes()
	if cache.sizes[key] != base {
		t.Fatalf("cached at %d bytes, partition has %d", cache.sizes[key], base)
	}
	type blobKey struct{}
	type plainKey struct{}
	p.Derived(blobKey{}, func() any { return derivedBlob{1 << 20} })
	p.Derived(blobKey{}, func() any { return derivedBlob{1 << 30} }) // kept already: not built
	p.Derived(plainKey{}, func() any { return 42 })                  // no size
	if got, want := p.SizeBytes(), base+1<<20; got != want {
		t.Errorf("SizeBytes %d with a 1 MiB derived value, want %d", got, want)
	}
	if got, want := cache.sizes[key], base+1<<20; got != want {
		t.Errorf("the cache measured %d bytes after the derived value, want %d", got, want)
	}

	// A partition the cache dropped is not added back.
	cache.mu.Lock()
	delete(cache.parts, key)
	cache.mu.Unlock()
	type otherKey struct{}
	p.Derived(otherKey{}, func() any { return derivedBlob{5} })
	if _, ok := cache.Get(key); ok {
		t.Error("a dropped partition was added back to the cache")
	}
}
