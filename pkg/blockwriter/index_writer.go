package blockwriter

import (
	"cmp"
	"encoding/binary"
	"github.com/cinder-profiling/cinder/pkg/encoding"
	"slices"
	"strings"
)

// Layout constants of index.tsdb (block-format.md §4).
const (
	indexMagic              = 0xBAAAD700
	indexFormatV2           = 2
	seriesAlignment         = 16 // a series ref is its entry's offset / 16
	listAlignment           = 4  // label indices and postings lists start 4-aligned
	fingerprintOffsetStride = 1024
)

// encbuf appends the primitives of index.tsdb to b.
type encbuf struct{ b []byte }

func (e *encbuf) be32(v uint32)    { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encbuf) be64(v uint64)    { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encbuf) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encbuf) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encbuf) uvstr(s string)   { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encbuf) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

// beginSection reserves a BE32 length and returns where the content
// starts; endSection fills in the length and appends the CRC32C.
func (e *encbuf) beginSection() int {
	e.be32(0)
	return len(e.b)
}

func (e *encbuf) endSection(start int) {
	binary.BigEndian.PutUint32(e.b[start-4:], uint32(len(e.b)-start))
	e.be32(encoding.CRC32C(e.b[start:]))
}

// encodeIndex writes series, sorted by labels and numbered 0..n-1 in that
// order, as an index.tsdb laid out as Pyroscope writes one: each series
// with one chunk meta carrying its SeriesIndex and time range in ns.
func encodeIndex(series []*seriesState) []byte {
	// Symbols, and the series of every (name, value), in series order.
	type pair struct{ name, value string }
	symbolSet := map[string]struct{}{}
	postings := map[pair][]int{}
	for i, s := range series {
		for _, l := range s.labels {
			symbolSet[l.Name], symbolSet[l.Value] = struct{}{}, struct{}{}
			k := pair{l.Name, l.Value}
			postings[k] = append(postings[k], i)
		}
	}
	symbols := make([]string, 0, len(symbolSet))
	for s := range symbolSet {
		symbols = append(symbols, s)
	}
	slices.Sort(symbols)
	symbolRef := make(map[string]uint32, len(symbols))
	for i, s := range symbols {
		symbolRef[s] = uint32(i)
	}
	pairs := make([]pair, 0, len(postings))
	for k := range postings {
		pairs = append(pairs, k)
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.value, b.value))
	})

	var (
		e                                                      encbuf
		tocSymbols, tocSeries, tocLabelIndices, tocPostings    int
		tocLabelIndicesTable, tocPostingsTable, tocFingerprint int
		from, through                                          int64
	)
	e.be32(indexMagic)
	e.b = append(e.b, indexFormatV2)

	tocSymbols = len(e.b)
	start := e.beginSection()
	e.be32(uint32(len(symbols)))
	for _, s := range symbols {
		e.uvstr(s)
	}
	e.endSection(start)

	tocSeries = len(e.b)
	refs := make([]uint32, len(series))
	var content encbuf
	for i, s := range series {
		e.align(seriesAlignment)
		refs[i] = uint32(len(e.b) / seriesAlignment)
		content.b = content.b[:0]
		content.be64(fingerprint(s.labels))
		content.uvarint(uint64(len(s.labels)))
		for _, l := range s.labels {
			content.uvarint(uint64(symbolRef[l.Name]))
			content.uvarint(uint64(symbolRef[l.Value]))
		}
		content.uvarint(1) // one chunk meta
		content.varint(s.minTime)
		content.uvarint(uint64(s.maxTime - s.minTime))
		content.uvarint(0) // KB
		content.uvarint(uint64(s.index))
		content.be32(0) // checksum
		e.uvarint(uint64(len(content.b)))
		e.b = append(e.b, content.b...)
		e.be32(encoding.CRC32C(content.b))
		if i == 0 || s.minTime < from {
			from = s.minTime
		}
		if i == 0 || s.maxTime > through {
			through = s.maxTime
		}
	}

	// One label index per name: the symbol refs of its values.
	tocLabelIndices = len(e.b)
	type nameIndex struct {
		name   string
		offset int
	}
	var labelIndices []nameIndex
	for lo := 0; lo < len(pairs); {
		hi := lo
		for hi < len(pairs) && pairs[hi].name == pairs[lo].name {
			hi++
		}
		e.align(listAlignment)
		labelIndices = append(labelIndices, nameIndex{pairs[lo].name, len(e.b)})
		start := e.beginSection()
		e.be32(1)
		e.be32(uint32(hi - lo))
		for _, p := range pairs[lo:hi] {
			e.be32(symbolRef[p.value])
		}
		e.endSection(start)
		lo = hi
	}

	// Postings: all series first, then one list per (name, value).
	tocPostings = len(e.b)
	postingsOffsets := make([]int, 0, len(pairs)+1)
	writeList := func(ordinals []int) {
		e.align(listAlignment)
		postingsOffsets = append(postingsOffsets, len(e.b))
		start := e.beginSection()
		e.be32(uint32(len(ordinals)))
		for _, o := range ordinals {
			e.be32(refs[o])
		}
		e.endSection(start)
	}
	all := make([]int, len(series))
	for i := range all {
		all[i] = i
	}
	writeList(all)
	for _, p := range pairs {
		writeList(postings[p])
	}

	tocLabelIndicesTable = len(e.b)
	start = e.beginSection()
	e.be32(uint32(len(labelIndices)))
	for _, li := range labelIndices {
		e.uvarint(1)
		e.uvstr(li.name)
		e.uvarint(uint64(li.offset))
	}
	e.endSection(start)

	tocPostingsTable = len(e.b)
	start = e.beginSection()
	e.be32(uint32(len(pairs) + 1))
	e.uvarint(2)
	e.uvstr("")
	e.uvstr("")
	e.uvarint(uint64(postingsOffsets[0]))
	for i, p := range pairs {
		e.uvarint(2)
		e.uvstr(p.name)
		e.uvstr(p.value)
		e.uvarint(uint64(postingsOffsets[i+1]))
	}
	e.endSection(start)

	tocFingerprint = len(e.b)
	start = e.beginSection()
	e.be32(uint32((len(series) + fingerprintOffsetStride - 1) / fingerprintOffsetStride))
	for i := 0; i < len(series); i += fingerprintOffsetStride {
		e.be64(uint64(refs[i]))
		e.be64(fingerprint(series[i].labels))
	}
	e.endSection(start)

	tocStart := len(e.b)
	for _, v := range []int{tocSymbols, tocSeries, tocLabelIndices, tocLabelIndicesTable, tocPostings, tocPostingsTable, tocFingerprint} {
		e.be64(uint64(v))
	}
	e.be64(uint64(from))
	e.be64(uint64(through))
	e.be32(encoding.CRC32C(e.b[tocStart:]))
	return e.b
}
