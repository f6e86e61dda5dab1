package blockreader

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// testSeries is a series for buildIndex.
type testSeries struct {
	Labels      Labels // written in this order
	SeriesIndex uint32
	Chunks      []testChunk // at least one
}

type testChunk struct{ MinTime, MaxTime int64 }

// seriesFingerprint is Pyroscope's series fingerprint: xxHash64 of
// name, 0xFF, value, 0xFF over the labels in stored order.
func seriesFingerprint(ls Labels) uint64 {
	h := xxhash.New()
	for _, l := range ls {
		h.WriteString(l.Name)
		h.Write([]byte{0xff})
		h.WriteString(l.Value)
		h.Write([]byte{0xff})
	}
	return h.Sum64()
}

// indexBuilder appends index.tsdb structures to buf.
type indexBuilder struct{ buf []byte }

func (w *indexBuilder) be32(v uint32)    { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *indexBuilder) be64(v uint64)    { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }
func (w *indexBuilder) uvarint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }
func (w *indexBuilder) varint(v int64)   { w.buf = binary.AppendVarint(w.buf, v) }
func (w *indexBuilder) uvstr(s string)   { w.uvarint(uint64(len(s))); w.buf = append(w.buf, s...) }

func (w *indexBuilder) align(n int) {
	for len(w.buf)%n != 0 {
		w.buf = append(w.buf, 0)
	}
}

// crcSection writes a BE32-length CRC section whose content body appends.
func (w *indexBuilder) crcSection(body func(w *indexBuilder)) {
	var c indexBuilder
	body(&c)
	w.be32(uint32(len(c.buf)))
	w.buf = append(w.buf, c.buf...)
	w.be32(encoding.CRC32C(c.buf))
}

// buildIndex writes series, in the given order, as an index.tsdb laid out
// the way Pyroscope writes one (block-format.md §13, step 3).
func buildIndex(series []testSeries) []byte {
	// Symbols and the (name, value) → series map.
	symbolSet := map[string]bool{}
	values := map[string]map[string]bool{}
	for _, s := range series {
		for _, l := range s.Labels {
			symbolSet[l.Name], symbolSet[l.Value] = true, true
			if values[l.Name] == nil {
				values[l.Name] = map[string]bool{}
			}
			values[l.Name][l.Value] = true
		}
	}
	symbols := sortedKeys(symbolSet)
	symbolRef := make(map[string]int, len(symbols))
	for i, s := range symbols {
		symbolRef[s] = i
	}
	names := sortedKeys(values)

	var (
		w   indexBuilder
		toc IndexTOC
	)
	w.be32(indexMagic)
	w.buf = append(w.buf, indexFormatV2)

	toc.Symbols = uint64(len(w.buf))
	w.crcSection(func(c *indexBuilder) {
		c.be32(uint32(len(symbols)))
		for _, s := range symbols {
			c.uvstr(s)
		}
	})

	toc.Series = uint64(len(w.buf))
	refs := make([]uint32, len(series))
	for i, s := range series {
		w.align(seriesAlignment)
		refs[i] = uint32(len(w.buf) / seriesAlignment)
		var c indexBuilder
		c.be64(seriesFingerprint(s.Labels))
		c.uvarint(uint64(len(s.Labels)))
		for _, l := range s.Labels {
			c.uvarint(uint64(symbolRef[l.Name]))
			c.uvarint(uint64(symbolRef[l.Value]))
		}
		c.uvarint(uint64(len(s.Chunks)))
		for j, ch := range s.Chunks {
			if j == 0 {
				c.varint(ch.MinTime)
			} else {
				c.varint(ch.MinTime - s.Chunks[j-1].MaxTime)
			}
			c.uvarint(uint64(ch.MaxTime - ch.MinTime))
			c.uvarint(0) // KB
			c.uvarint(uint64(s.SeriesIndex))
			c.be32(0) // checksum
		}
		w.uvarint(uint64(len(c.buf)))
		w.buf = append(w.buf, c.buf...)
		w.be32(encoding.CRC32C(c.buf))
		if i == 0 || s.Chunks[0].MinTime < toc.From {
			toc.From = s.Chunks[0].MinTime
		}
		if last := s.Chunks[len(s.Chunks)-1].MaxTime; i == 0 || last > toc.Through {
			toc.Through = last
		}
	}

	toc.LabelIndices = uint64(len(w.buf))
	labelIndexOffsets := make([]int, len(names))
	for i, name := range names {
		w.align(listAlignment)
		labelIndexOffsets[i] = len(w.buf)
		vs := sortedKeys(values[name])
		w.crcSection(func(c *indexBuilder) {
			c.be32(1)
			c.be32(uint32(len(vs)))
			for _, v := range vs {
				c.be32(uint32(symbolRef[v]))
			}
		})
	}

	toc.Postings = uint64(len(w.buf))
	type postingsKey struct {
		name, value string
		offset      int
	}
	writeList := func(name, value string) postingsKey {
		w.align(listAlignment)
		k := postingsKey{name, value, len(w.buf)}
		var list []uint32
		for i, s := range series {
			if v, ok := s.Labels.Get(name); name == "" || ok && v == value {
				list = append(list, refs[i])
			}
		}
		slices.Sort(list)
		w.crcSection(func(c *indexBuilder) {
			c.be32(uint32(len(list)))
			for _, ref := range list {
				c.be32(ref)
			}
		})
		return k
	}
	keys := []postingsKey{writeList("", "")}
	for _, name := range names {
		for _, v := range sortedKeys(values[name]) {
			keys = append(keys, writeList(name, v))
		}
	}

	toc.LabelIndicesTable = uint64(len(w.buf))
	w.crcSection(func(c *indexBuilder) {
		c.be32(uint32(len(names)))
		for i, name := range names {
			c.uvarint(1)
			c.uvstr(name)
			c.uvarint(uint64(labelIndexOffsets[i]))
		}
	})

	toc.PostingsTable = uint64(len(w.buf))
	w.crcSection(func(c *indexBuilder) {
		c.be32(uint32(len(keys)))
		for _, k := range keys {
			c.uvarint(2)
			c.uvstr(k.name)
			c.uvstr(k.value)
			c.uvarint(uint64(k.offset))
		}
	})

	toc.FingerprintOffsets = uint64(len(w.buf))
	w.crcSection(func(c *indexBuilder) {
		n := (len(series) + 1023) / 1024
		c.be32(uint32(n))
		for i := 0; i < len(series); i += 1024 {
			c.be64(uint64(refs[i]))
			c.be64(seriesFingerprint(series[i].Labels))
		}
	})

	tocStart := len(w.buf)
	for _, v := range []uint64{toc.Symbols, toc.Series, toc.LabelIndices, toc.LabelIndicesTable,
		toc.Postings, toc.PostingsTable, toc.FingerprintOffsets, uint64(toc.From), uint64(toc.Through)} {
		w.be64(v)
	}
	w.be32(encoding.CRC32C(w.buf[tocStart:]))
	return w.buf
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compareLabelSets orders label sets as Pyroscope sorts series: pair by pair
// in stored order, name then value; a prefix sorts first.
func compareLabelSets(a, b Labels) int {
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

// sampleSeries returns n sorted series with profile-like labels, numbered
// 0..n-1, for tests that must not depend on the shared test data.
func sampleSeries(n int) []testSeries {
	out := make([]testSeries, 0, n)
	types := []string{"cpu", "inuse_space", "alloc_objects"}
	for i := 0; i < n; i++ {
		typ := types[i%len(types)]
		ls := Labels{
			{"__name__", "process_cpu"},
			{"__profile_type__", "process_cpu:" + typ + ":nanoseconds:cpu:nanoseconds"},
			{"__type__", typ},
			{"pod", "pod-" + strings.Repeat("x", i%7) + string(rune('a'+i%26))},
			{"service_name", "svc-" + string(rune('a'+i%5))},
		}
		start := int64(1_700_000_000_000_000_000) + int64(i)*1_000_000_000
		out = append(out, testSeries{Labels: ls, Chunks: []testChunk{{start, start + int64(i%13)*1_000_000_000}}})
	}
	slices.SortFunc(out, func(a, b testSeries) int { return compareLabelSets(a.Labels, b.Labels) })
	out = slices.CompactFunc(out, func(a, b testSeries) bool { return compareLabelSets(a.Labels, b.Labels) == 0 })
	for i := range out {
		out[i].SeriesIndex = uint32(i)
	}
	return out
}
