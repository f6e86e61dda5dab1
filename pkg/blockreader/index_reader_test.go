package blockreader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// openTestIndex reads, opens and validates the index of block b.
func openTestIndex(t *testing.T, testdata string, b testBlock) ([]byte, *IndexReader) {
	t.Helper()
	data := readBlockFile(t, testdata, b, IndexFilename)
	r, err := NewIndexReader(data)
	if err != nil {
		t.Fatalf("NewIndexReader: %v", err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return data, r
}

// readAllSeries decodes every series of r in ref order.
func readAllSeries(t *testing.T, r *IndexReader) ([]SeriesRef, []Series) {
	t.Helper()
	refs, err := r.AllPostings()
	if err != nil {
		t.Fatal(err)
	}
	series := make([]Series, len(refs))
	for i, ref := range refs {
		if err := r.Series(ref, &series[i]); err != nil {
			t.Fatal(err)
		}
	}
	return refs, series
}

func TestIndexReaderBlocks(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			data, r := openTestIndex(t, testdata, b)
			meta, err := ParseMeta(readBlockFile(t, testdata, b, MetaFilename))
			if err != nil {
				t.Fatal(err)
			}
			if r.NumSeries() != b.numSeries || uint64(r.NumSeries()) != meta.Stats.NumSeries {
				t.Errorf("NumSeries = %d, want %d (meta.json stats say %d)", r.NumSeries(), b.numSeries, meta.Stats.NumSeries)
			}
			if r.Bytes() != len(data) {
				t.Errorf("Bytes = %d, want %d", r.Bytes(), len(data))
			}
			toc := r.TOC()
			// meta.json times are the block's first and last profile, in ms,
			// in blocks as the ingester wrote them. The compacted partial
			// block's meta.json has a wider range than its index.
			from, through := toc.From/1e6, toc.Through/1e6
			if b.level <= 1 && (from != int64(meta.MinTime) || through != int64(meta.MaxTime)) ||
				from < int64(meta.MinTime) || through > int64(meta.MaxTime) {
				t.Errorf("TOC From/Through = %d/%d ns, meta.json says [%d, %d] ms", toc.From, toc.Through, meta.MinTime, meta.MaxTime)
			}
			all, err := r.AllPostings()
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != r.NumSeries() {
				t.Errorf("AllPostings has %d refs, NumSeries is %d", len(all), r.NumSeries())
			}
		})
	}
}

func TestIndexTOCExample(t *testing.T) {
	testdata := sharedTestdata(t)
	_, r := openTestIndex(t, testdata, blockByULID(t, tinyBlock))
	want := IndexTOC{
		Symbols: 5, Series: 173, LabelIndices: 269, LabelIndicesTable: 588, Postings: 416,
		PostingsTable: 701, FingerprintOffsets: 918, From: 1_000_000_000, Through: 20_000_000_000,
	}
	if got := r.TOC(); got != want {
		t.Fatalf("TOC = %+v, want %+v", got, want)
	}
}

func TestIndexSeriesExample(t *testing.T) {
	testdata := sharedTestdata(t)
	_, r := openTestIndex(t, testdata, blockByULID(t, tinyBlock))
	labels := func(job string) Labels {
		return Labels{
			{"__name__", "process_cpu"},
			{"__period_type__", "cpu"},
			{"__period_unit__", "nanoseconds"},
			{"__profile_type__", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"},
			{"__type__", "cpu"},
			{"__unit__", "nanoseconds"},
			{"job", job},
		}
	}
	tests := []struct {
		ref  SeriesRef
		want Series
	}{
		{11, Series{Labels: labels("a"), Fingerprint: 0x6e1aa9129d4323f0, SeriesIndex: 0, MinTime: 1e9, MaxTime: 10e9}},
		{14, Series{Labels: labels("b"), Fingerprint: seriesFingerprint(labels("b")), SeriesIndex: 1, MinTime: 11e9, MaxTime: 20e9}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ref), func(t *testing.T) {
			var s Series
			if err := r.Series(tt.ref, &s); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Labels, tt.want.Labels) {
				t.Errorf("labels = %v, want %v", s.Labels, tt.want.Labels)
			}
			if s.Fingerprint != tt.want.Fingerprint || s.SeriesIndex != tt.want.SeriesIndex ||
				s.MinTime != tt.want.MinTime || s.MaxTime != tt.want.MaxTime {
				t.Errorf("series = %+v, want %+v", s, tt.want)
			}
		})
	}
	if all, _ := r.AllPostings(); !slices.Equal(all, []SeriesRef{11, 14}) {
		t.Errorf("AllPostings = %v, want [11 14]", all)
	}
	if got, _ := r.Postings("job", "b"); !slices.Equal(got, []SeriesRef{14}) {
		t.Errorf(`Postings(job="b") = %v, want [14]`, got)
	}
}

// TestIndexSeriesInvariants checks what block-format.md §4.5 says holds for
// every series of every block.
func TestIndexSeriesInvariants(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			_, r := openTestIndex(t, testdata, b)
			refs, series := readAllSeries(t, r)
			toc := r.TOC()
			for i, s := range series {
				if fp := seriesFingerprint(s.Labels); s.Fingerprint != fp {
					t.Errorf("ref %d: fingerprint %016x, xxhash64 of the labels is %016x", refs[i], s.Fingerprint, fp)
				}
				// SeriesIndex is the ordinal of the series in the index.
				if s.SeriesIndex != uint32(i) {
					t.Errorf("ref %d: SeriesIndex %d, want ordinal %d", refs[i], s.SeriesIndex, i)
				}
				if s.MinTime > s.MaxTime || s.MinTime < toc.From || s.MaxTime > toc.Through {
					t.Errorf("ref %d: time range [%d, %d] not inside TOC [%d, %d]", refs[i], s.MinTime, s.MaxTime, toc.From, toc.Through)
				}
				names := map[string]bool{}
				for _, l := range s.Labels {
					if names[l.Name] || l.Name == "" || l.Value == "" {
						t.Errorf("ref %d: bad or repeated label %q=%q", refs[i], l.Name, l.Value)
					}
					names[l.Name] = true
				}
				if i > 0 && compareLabelSets(series[i-1].Labels, s.Labels) >= 0 {
					t.Errorf("ref %d: labels %v do not sort after %v", refs[i], s.Labels, series[i-1].Labels)
				}
			}
		})
	}
}

// TestIndexLookupsBruteForce compares every lookup with the answer found by
// decoding every series.
func TestIndexLookupsBruteForce(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			_, r := openTestIndex(t, testdata, b)
			checkLookupsBruteForce(t, r)
		})
	}
}

func checkLookupsBruteForce(t *testing.T, r *IndexReader) {
	t.Helper()
	refs, series := readAllSeries(t, r)
	want := map[string]map[string][]SeriesRef{}
	for i, s := range series {
		for _, l := range s.Labels {
			if want[l.Name] == nil {
				want[l.Name] = map[string][]SeriesRef{}
			}
			want[l.Name][l.Value] = append(want[l.Name][l.Value], refs[i])
		}
	}
	if got, w := r.LabelNames(), sortedKeys(want); !slices.Equal(got, w) {
		t.Errorf("LabelNames = %q, want %q", got, w)
	}
	for name, values := range want {
		wantValues := sortedKeys(values)
		if got := r.LabelValues(name); !slices.Equal(got, wantValues) {
			t.Errorf("LabelValues(%q) = %q, want %q", name, got, wantValues)
		}
		var union []SeriesRef
		for _, v := range wantValues {
			got, err := r.Postings(name, v)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, values[v]) {
				t.Errorf("Postings(%q, %q) = %v, want %v", name, v, got, values[v])
			}
			union = append(union, values[v]...)
		}
		slices.Sort(union)
		union = slices.Compact(union)
		// All values, each twice, and one absent: the union of the lists.
		query := append(append(slices.Clone(wantValues), wantValues...), "\x00absent")
		got, err := r.Postings(name, query...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, union) {
			t.Errorf("Postings(%q, all values) = %v, want %v", name, got, union)
		}
	}
	if got, err := r.Postings("", ""); err != nil || !slices.Equal(got, refs) {
		t.Errorf(`Postings("", "") = %v, %v; want AllPostings %v`, got, err, refs)
	}
	absent := []struct{ name, value string }{{"\x00absent", "x"}, {"", "x"}}
	if len(want) > 0 {
		absent = append(absent, struct{ name, value string }{r.LabelNames()[0], "\x00absent"})
	}
	for _, a := range absent {
		if got, err := r.Postings(a.name, a.value); err != nil || len(got) != 0 {
			t.Errorf("Postings(%q, %q) = %v, %v; want nothing", a.name, a.value, got, err)
		}
	}
	if got, err := r.Postings("__name__"); err != nil || len(got) != 0 {
		t.Errorf("Postings without values = %v, %v; want nothing", got, err)
	}
	if got := r.LabelValues("\x00absent"); got != nil {
		t.Errorf("LabelValues(absent) = %q, want nil", got)
	}
	if got := r.LabelValues(""); got != nil {
		t.Errorf(`LabelValues("") = %q, want nil`, got)
	}
}

// TestIndexRebuild writes each block's series again with the test builder
// and expects the very same bytes: the reader and block-format.md agree
// with Pyroscope's writer on every byte of the format.
func TestIndexRebuild(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			data, r := openTestIndex(t, testdata, b)
			_, series := readAllSeries(t, r)
			in := make([]testSeries, len(series))
			for i, s := range series {
				in[i] = testSeries{Labels: s.Labels, SeriesIndex: s.SeriesIndex, Chunks: []testChunk{{s.MinTime, s.MaxTime}}}
			}
			got := buildIndex(in)
			if !bytes.Equal(got, data) {
				i := 0
				for i < len(got) && i < len(data) && got[i] == data[i] {
					i++
				}
				t.Fatalf("rebuilt index (%d bytes) differs from the original (%d bytes) at offset %d", len(got), len(data), i)
			}
		})
	}
}

// TestIndexBuilt runs the reader over indexes built by the test builder,
// which needs no shared data and covers what the real blocks lack.
func TestIndexBuilt(t *testing.T) {
	enforced := []testSeries{
		{Labels: Labels{{"__profile_type__", "a:b:c:d:e"}, {"__service_name__", "svc"}, {"__name__", "a"}, {"job", "x"}}},
		{Labels: Labels{{"__profile_type__", "a:b:c:d:e"}, {"__service_name__", "svc"}, {"__name__", "a"}, {"job", "y"}}},
	}
	multiChunk := []testSeries{
		{Labels: Labels{{"a", "1"}}, Chunks: []testChunk{{-5e9, -1e9}, {-2e9, 3e9}, {7e9, 7e9}, {math.MaxInt64 - 10, math.MaxInt64}}},
		{Labels: Labels{{"a", "2"}}, SeriesIndex: math.MaxUint32, Chunks: []testChunk{{math.MinInt64, math.MinInt64 + 1}}},
	}
	tests := []struct {
		name   string
		series []testSeries
	}{
		{"empty", nil},
		{"one series", sampleSeries(1)},
		{"sample", sampleSeries(300)},
		{"two fingerprint offsets", sampleSeries(2000)},
		{"enforced label order", enforced},
		{"multiple chunk metas", multiChunk},
		{"no labels", []testSeries{{}}},
		{"long strings", []testSeries{{Labels: Labels{{strings.Repeat("n", 300), strings.Repeat("v", 70000)}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.series {
				if tt.series[i].Chunks == nil {
					tt.series[i].Chunks = []testChunk{{int64(i), int64(i) + 10}}
				}
			}
			data := buildIndex(tt.series)
			r, err := NewIndexReader(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			if r.NumSeries() != len(tt.series) {
				t.Fatalf("NumSeries = %d, want %d", r.NumSeries(), len(tt.series))
			}
			_, series := readAllSeries(t, r)
			for i, s := range series {
				w := tt.series[i]
				if !slices.Equal(s.Labels, w.Labels) && len(s.Labels)+len(w.Labels) > 0 {
					t.Errorf("series %d: labels %v, want %v", i, s.Labels, w.Labels)
				}
				if s.SeriesIndex != w.SeriesIndex || s.Fingerprint != seriesFingerprint(w.Labels) ||
					s.MinTime != w.Chunks[0].MinTime || s.MaxTime != w.Chunks[len(w.Chunks)-1].MaxTime {
					t.Errorf("series %d: got %+v, want %+v", i, s, w)
				}
			}
			checkLookupsBruteForce(t, r)
		})
	}
}

// sectionAt names the section of r's file that holds offset off.
func sectionAt(r *IndexReader, off int) string {
	l := r.layout
	switch {
	case off < indexHeaderSize:
		return sectionHeader
	case off < l.series:
		return sectionSymbols
	case off < l.labelIndices:
		return sectionSeries
	case off < l.postings:
		return sectionLabelIndex
	case off < l.labelIndicesTable:
		return sectionPostings
	case off < l.postingsTable:
		return sectionLabelIndicesTable
	case off < l.fingerprints:
		return sectionPostingsTable
	case off < l.toc:
		return sectionFingerprints
	}
	return sectionTOC
}

// openAndValidate is what a block sync does with an index file.
func openAndValidate(b []byte) error {
	r, err := NewIndexReader(b)
	if err != nil {
		return err
	}
	return r.Validate()
}

// TestIndexCorruption flips bytes of every section and truncates the file:
// opening or validating must fail, naming the section the damage is in.
func TestIndexCorruption(t *testing.T) {
	run := func(t *testing.T, data []byte) {
		r, err := NewIndexReader(data)
		if err != nil {
			t.Fatal(err)
		}
		// Every byte of a small file, a sample of a large one, always
		// including each section's first and last bytes.
		step := 1
		if len(data) > 8192 {
			step = len(data)/1500 | 1
		}
		var offsets []int
		for off := 0; off < len(data); off += step {
			offsets = append(offsets, off)
		}
		for _, s := range []int{0, r.layout.symbols, r.layout.series, r.layout.labelIndices, r.layout.postings,
			r.layout.labelIndicesTable, r.layout.postingsTable, r.layout.fingerprints, r.layout.toc, len(data)} {
			offsets = append(offsets, max(s-1, 0), s, min(s+1, len(data)-1))
		}
		slices.Sort(offsets)
		offsets = slices.Compact(offsets)
		sectionsHit := map[string]bool{}
		bad := make([]byte, len(data))
		for _, off := range offsets {
			if off >= len(data) {
				continue
			}
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				copy(bad, data)
				bad[off] ^= mask
				err := openAndValidate(bad)
				want := sectionAt(r, off)
				var ie *IndexError
				if !errors.As(err, &ie) {
					t.Fatalf("byte %d (%s) ^ %#x: error %v, want an *IndexError", off, want, mask, err)
				}
				if ie.Section != want || !strings.Contains(err.Error(), "index.tsdb: "+want) {
					t.Fatalf("byte %d ^ %#x: error %q, want one naming the %s", off, mask, err, want)
				}
				sectionsHit[want] = true
			}
		}
		if len(sectionsHit) != 9 && r.NumSeries() > 0 {
			t.Errorf("only sections %v were damaged", sortedKeys(sectionsHit))
		}
		for n := 0; n < len(data); n += step {
			if err := openAndValidate(data[:n]); err == nil {
				t.Fatalf("truncated to %d bytes: no error", n)
			}
		}
		for _, extra := range [][]byte{{0}, make([]byte, 76), data[len(data)-76:]} {
			if err := openAndValidate(append(slices.Clone(data), extra...)); err == nil {
				t.Fatalf("%d bytes appended: no error", len(extra))
			}
		}
	}
	t.Run("built", func(t *testing.T) { run(t, buildIndex(sampleSeries(40))) })
	testdata, ok := findSharedTestdata()
	if !ok {
		t.Skip("shared test data is missing; only the built index was damaged")
	}
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			run(t, readBlockFile(t, testdata, b, IndexFilename))
		})
	}
}

func TestIndexErrorMessages(t *testing.T) {
	data := buildIndex(sampleSeries(10))
	r, err := NewIndexReader(data)
	if err != nil {
		t.Fatal(err)
	}
	damage := func(off int) []byte {
		b := slices.Clone(data)
		b[off] ^= 0xff
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string // prefix of the message
		is   error
	}{
		{"short", data[:80], "index.tsdb: header: file of 80 bytes is too short", nil},
		{"magic", damage(0), "index.tsdb: header: bad magic number", ErrIndexMagic},
		{"version 1", func() []byte { b := slices.Clone(data); b[4] = 1; return b }(), "index.tsdb: header: unsupported index format version: 1", ErrIndexVersion},
		{"version 3", func() []byte { b := slices.Clone(data); b[4] = 3; return b }(), "index.tsdb: header: unsupported index format version: 3", ErrIndexVersion},
		{"TOC", damage(len(data) - 10), "index.tsdb: TOC: bad CRC32C", ErrChecksum},
		{"symbols", damage(r.layout.symbols + 10), "index.tsdb: symbol table: bad CRC32C", ErrChecksum},
		{"postings offset table", damage(r.layout.postingsTable + 10), "index.tsdb: postings offset table: bad CRC32C", ErrChecksum},
		{"series", damage(alignUp(r.layout.series, 16) + 3), "index.tsdb: series entry (ref ", ErrChecksum},
		{"postings list", damage(alignUp(r.layout.postings, 4) + 9), "index.tsdb: postings list (offset ", ErrChecksum},
		{"label index", damage(alignUp(r.layout.labelIndices, 4) + 9), "index.tsdb: label index (offset ", ErrChecksum},
		{"label indices table", damage(r.layout.labelIndicesTable + 10), "index.tsdb: label indices table: bad CRC32C", ErrChecksum},
		{"fingerprint offsets table", damage(r.layout.fingerprints + 10), "index.tsdb: fingerprint offsets table: bad CRC32C", ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openAndValidate(tt.data)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %q, want prefix %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %q is not %q", err, tt.is)
			}
		})
	}
}

// TestIndexHostile feeds indexes whose CRCs are right but whose content is
// not: only structural checks can catch these.
func TestIndexHostile(t *testing.T) {
	base := buildIndex(sampleSeries(5))
	r0, err := NewIndexReader(base)
	if err != nil {
		t.Fatal(err)
	}
	l := r0.layout
	firstSeries := alignUp(l.series, seriesAlignment)
	tests := []struct {
		name    string
		edit    func(b []byte) []byte
		section string
	}{
		{"huge symbol count", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[l.symbols+4:], math.MaxUint32)
			return b
		}, sectionSymbols},
		{"symbols out of order", func(b []byte) []byte {
			// The first two symbols are "__name__" and "__profile_type__".
			b[l.symbols+9+1] = 'z'
			return b
		}, sectionSymbols},
		{"huge postings count", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[l.postingsTable+4:], math.MaxUint32)
			return b
		}, sectionPostingsTable},
		{"TOC offsets out of order", func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[len(b)-76+8:], uint64(l.labelIndicesTable))
			return b
		}, sectionTOC},
		{"TOC offset past the end", func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[len(b)-76+48:], math.MaxUint64)
			return b
		}, sectionTOC},
		{"symbol ref out of range", func(b []byte) []byte {
			b[firstSeries+1+8+1] = 0x7f // first label's name ref
			return b
		}, sectionSeries},
		{"huge label count", func(b []byte) []byte {
			b[firstSeries+1+8] = 0x7f
			return b
		}, sectionSeries},
		{"no chunk meta", func(b []byte) []byte {
			// Series have 5 labels of one-byte refs: count at 1+8+1+10.
			b[firstSeries+20] = 0
			return b
		}, sectionSeries},
		{"postings not ascending", func(b []byte) []byte {
			all := alignUp(l.postings, listAlignment)
			first := binary.BigEndian.Uint32(b[all+8:])
			binary.BigEndian.PutUint32(b[all+12:], first)
			return b
		}, sectionPostings},
		{"dangling postings ref", func(b []byte) []byte {
			list := alignUp(l.postings, listAlignment)
			// The first list after the all-series list.
			list = alignUp(list+8+int(binary.BigEndian.Uint32(b[list:])), listAlignment)
			binary.BigEndian.PutUint32(b[list+8:], 1)
			return b
		}, sectionPostings},
		{"non-zero series padding", func(b []byte) []byte {
			b[firstSeries-1] = 1
			return b
		}, sectionSeries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fixIndexCRCs(tt.edit(slices.Clone(base)))
			err := openAndValidate(b)
			var ie *IndexError
			if !errors.As(err, &ie) || ie.Section != tt.section {
				t.Fatalf("error %v, want one naming the %s", err, tt.section)
			}
			t.Log(err)
		})
	}
}

func TestIndexSeriesRefs(t *testing.T) {
	data := buildIndex(sampleSeries(50))
	r, err := NewIndexReader(data)
	if err != nil {
		t.Fatal(err)
	}
	all, err := r.AllPostings()
	if err != nil {
		t.Fatal(err)
	}
	var s Series
	// Every 16-aligned offset that is not an entry must fail, not misparse.
	for ref := SeriesRef(0); int(ref)*16 < len(data); ref++ {
		_, isEntry := slices.BinarySearch(all, ref)
		if err := r.Series(ref, &s); (err == nil) != isEntry {
			t.Fatalf("Series(%d): %v, entry: %v", ref, err, isEntry)
		}
	}
	if err := r.Series(math.MaxUint32, &s); err == nil {
		t.Fatal("Series(MaxUint32) succeeded")
	}
}

func TestIndexSeriesNoAllocs(t *testing.T) {
	data := buildIndex(sampleSeries(50))
	r, err := NewIndexReader(data)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := r.AllPostings()
	s := Series{Labels: make(Labels, 0, 16)}
	allocs := testing.AllocsPerRun(100, func() {
		for _, ref := range all {
			if err := r.Series(ref, &s); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Series allocates %.1f times per %d calls, want 0", allocs, len(all))
	}
	// Label strings are the reader's symbols, not copies.
	for _, l := range s.Labels {
		for _, str := range []string{l.Name, l.Value} {
			i, found := slices.BinarySearch(r.symbols, str)
			if !found || unsafe.StringData(r.symbols[i]) != unsafe.StringData(str) {
				t.Errorf("label string %q is not the interned symbol", str)
			}
		}
	}
}

func TestIndexLookupsAreCopies(t *testing.T) {
	r, err := NewIndexReader(buildIndex(sampleSeries(20)))
	if err != nil {
		t.Fatal(err)
	}
	names := r.LabelNames()
	names[0] = "changed"
	values := r.LabelValues("service_name")
	values[0] = "changed"
	if r.LabelNames()[0] == "changed" || r.LabelValues("service_name")[0] == "changed" {
		t.Fatal("a caller's change to a returned slice reached the reader")
	}
}

func TestLabelsGet(t *testing.T) {
	ls := Labels{{"b", "1"}, {"a", "2"}, {"empty", ""}}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"a", "2", true}, {"b", "1", true}, {"empty", "", true}, {"c", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		if got, ok := ls.Get(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Labels(nil).Get("a"); ok {
		t.Error("nil Labels has a label")
	}
}

// fixIndexCRCs recomputes, as far as the layout can be followed, every CRC
// of an index, so that fuzzed and hand-damaged content reaches the decoders
// behind the checksums.
func fixIndexCRCs(b []byte) []byte {
	if len(b) < indexHeaderSize+indexTOCSize {
		return b
	}
	tocStart := len(b) - indexTOCSize
	off := func(i int) int {
		v := binary.BigEndian.Uint64(b[tocStart+8*i:])
		if v > uint64(tocStart) {
			return tocStart
		}
		return int(v)
	}
	symbols, series, labelIndices, labelIndicesTable := off(0), off(1), off(2), off(3)
	postings, postingsTable, fingerprints := off(4), off(5), off(6)
	fix := func(pos, end int) (next int, ok bool) {
		if pos < 0 || pos+8 > end {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(b[pos:]))
		if n > end-pos-8 {
			return 0, false
		}
		binary.BigEndian.PutUint32(b[pos+4+n:], encoding.CRC32C(b[pos+4:pos+4+n]))
		return pos + 8 + n, true
	}
	walk := func(start, end, alignment int) {
		for pos := start; pos < end; {
			pos = alignUp(pos, alignment)
			next, ok := fix(pos, end)
			if !ok {
				return
			}
			pos = next
		}
	}
	fix(symbols, tocStart)
	for pos := series; pos < min(labelIndices, tocStart); {
		pos = alignUp(pos, seriesAlignment)
		if pos >= tocStart {
			break
		}
		n, w := binary.Uvarint(b[pos:tocStart])
		if w <= 0 || tocStart-pos-w < 4 || n > uint64(tocStart-pos-w-4) {
			break
		}
		start := pos + w
		binary.BigEndian.PutUint32(b[start+int(n):], encoding.CRC32C(b[start:start+int(n)]))
		pos = start + int(n) + 4
	}
	walk(labelIndices, min(postings, tocStart), listAlignment)
	walk(postings, min(labelIndicesTable, tocStart), listAlignment)
	fix(labelIndicesTable, tocStart)
	fix(postingsTable, tocStart)
	fix(fingerprints, tocStart)
	binary.BigEndian.PutUint32(b[len(b)-4:], encoding.CRC32C(b[tocStart:len(b)-4]))
	return b
}

func FuzzIndexReader(f *testing.F) {
	built := buildIndex(sampleSeries(12))
	seeds := [][]byte{built, buildIndex(nil), buildIndex(sampleSeries(1))}
	if testdata, ok := findSharedTestdata(); ok {
		for _, id := range []string{tinyBlock, "01GR3QABQB6J30Q04K4E6MAKRE"} {
			seeds = append(seeds, readBlockFile(f, testdata, blockByULID(f, id), IndexFilename))
		}
	}
	for _, s := range seeds {
		f.Add(s)
		for _, n := range []int{0, 5, 81, len(s) / 2, len(s) - 77, len(s) - 76, len(s) - 1} {
			if n >= 0 && n < len(s) {
				f.Add(s[:n])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkIndexNeverPanics(t, data)
		checkIndexNeverPanics(t, fixIndexCRCs(slices.Clone(data)))
	})
}

// checkIndexNeverPanics calls every method of the reader on data and checks
// the answers that must hold whatever data holds.
func checkIndexNeverPanics(t *testing.T, data []byte) {
	isIndexError := func(err error) {
		t.Helper()
		var ie *IndexError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error %v is not an *IndexError", err)
		}
	}
	r, err := NewIndexReader(data)
	if err != nil {
		isIndexError(err)
		return
	}
	verr := r.Validate()
	isIndexError(verr)
	valid := verr == nil

	var s Series
	checkRefs := func(what string, refs []SeriesRef, err error) {
		t.Helper()
		isIndexError(err)
		if valid && err != nil {
			t.Fatalf("%s of a valid index: %v", what, err)
		}
		for i := 1; i < len(refs); i++ {
			if refs[i] <= refs[i-1] {
				t.Fatalf("%s: refs %v not ascending", what, refs)
			}
		}
		for _, ref := range refs {
			err := r.Series(ref, &s)
			isIndexError(err)
			if valid && err != nil {
				t.Fatalf("%s: series %d of a valid index: %v", what, ref, err)
			}
		}
	}
	all, err := r.AllPostings()
	checkRefs("AllPostings", all, err)
	if valid && len(all) != r.NumSeries() {
		t.Fatalf("valid index: %d refs in AllPostings, NumSeries %d", len(all), r.NumSeries())
	}
	names := r.LabelNames()
	for i, name := range names {
		if name == "" || i > 0 && names[i-1] >= name {
			t.Fatalf("LabelNames %q not sorted, distinct and non-empty", names)
		}
		values := r.LabelValues(name)
		if values == nil {
			t.Fatalf("LabelValues(%q) = nil for a listed name", name)
		}
		for j := 1; j < len(values); j++ {
			if values[j-1] >= values[j] {
				t.Fatalf("LabelValues(%q) = %q not sorted and distinct", name, values)
			}
		}
		refs, err := r.Postings(name, values...)
		checkRefs("Postings "+name, refs, err)
		for _, v := range values {
			refs, err := r.Postings(name, v)
			checkRefs("Postings "+name+"="+v, refs, err)
		}
	}
	for _, ref := range []SeriesRef{0, 1, SeriesRef(len(data) / 16), math.MaxUint32} {
		isIndexError(r.Series(ref, &s))
	}
	_ = r.Bytes()
	_ = r.TOC()
}

func TestIndexReaderZeroValue(t *testing.T) {
	var r IndexReader
	if r.NumSeries() != 0 || r.LabelNames() != nil || r.LabelValues("a") != nil || r.Bytes() != 0 {
		t.Fatal("zero IndexReader is not empty")
	}
	if refs, err := r.AllPostings(); refs != nil || err != nil {
		t.Fatalf("AllPostings = %v, %v", refs, err)
	}
	if refs, err := r.Postings("a", "b"); refs != nil || err != nil {
		t.Fatalf("Postings = %v, %v", refs, err)
	}
	if err := r.Series(0, &Series{}); err == nil {
		t.Fatal("Series of a zero IndexReader succeeded")
	}
}
