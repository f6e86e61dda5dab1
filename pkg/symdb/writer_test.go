package symdb

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/delta"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// This file holds a small symdb writer, written from block-format.md, so
// that tests and fuzz seeds do not depend on the shared test data.

// encodeTree serializes a parent-pointer tree with group varints (§10.2).
func encodeTree(parents, locs []int32) []byte {
	var out []byte
	var prev int32
	vals := make([]uint32, 0, 4)
	flush := func() {
		ctrl := byte(0)
		var body []byte
		for k, v := range vals {
			n := 1
			for v>>(8*n) != 0 && n < 4 {
				n++
			}
			ctrl |= byte(n-1) << (2 * k)
			for b := 0; b < n; b++ {
				body = append(body, byte(v>>(8*b)))
			}
		}
		out = append(append(out, ctrl), body...)
		vals = vals[:0]
	}
	for i := range parents {
		d := parents[i] - prev
		prev = parents[i]
		vals = append(vals, uint32(d<<1^d>>31), uint32(locs[i]))
		if len(vals) == 4 {
			flush()
		}
	}
	if len(vals) == 2 {
		vals = append(vals, 0, 0) // stub node
		flush()
	}
	return out
}

func crc(b []byte) uint32 { return encoding.CRC32C(b) }

// newRand returns a deterministic random source for test data.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

func putChunkHeader(b []byte, h chunkHeader) []byte {
	var x [chunkHeaderSize]byte
	binary.BigEndian.PutUint64(x[0:], h.offset)
	binary.BigEndian.PutUint64(x[8:], h.size)
	binary.BigEndian.PutUint64(x[16:], h.partition)
	binary.BigEndian.PutUint16(x[24:], h.blockIndex)
	x[27] = h.encoding
	binary.BigEndian.PutUint32(x[32:], h.stacktraces)
	binary.BigEndian.PutUint32(x[36:], h.nodes)
	binary.BigEndian.PutUint32(x[40:], h.maxDepth)
	binary.BigEndian.PutUint32(x[44:], h.maxNodes)
	binary.BigEndian.PutUint32(x[60:], h.crc)
	return append(b, x[:]...)
}

func putSymbolsBlockHeader(b []byte, h symbolsBlockHeader) []byte {
	var x [symbolsBlockHeaderSize]byte
	binary.BigEndian.PutUint64(x[0:], h.offset)
	binary.BigEndian.PutUint32(x[8:], h.size)
	binary.BigEndian.PutUint32(x[12:], h.crc)
	binary.BigEndian.PutUint32(x[16:], h.length)
	binary.BigEndian.PutUint32(x[20:], h.blockSize)
	binary.BigEndian.PutUint16(x[24:], h.headerSize)
	binary.BigEndian.PutUint16(x[26:], h.format)
	return append(b, x[:]...)
}

// encodeIndex writes a whole index: header, TOC, data section and CRC.
func encodeIndex(format uint32, data []byte) []byte {
	b := []byte(symdbMagic)
	b = binary.BigEndian.AppendUint32(b, format)
	b = append(b, make([]byte, 8)...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	b = binary.BigEndian.AppendUint64(b, indexHeaderSize+indexTOCSize)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc(b))
}

func encodeFooter(indexOffset uint64) []byte {
	b := []byte(symdbMagic)
	b = binary.BigEndian.AppendUint32(b, Format3)
	b = binary.BigEndian.AppendUint64(b, indexOffset)
	b = append(b, 0, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, crc(b))
}

func deltaInt32s(v []int32) []byte {
	var enc delta.BinaryPackedEncoding
	b, _ := enc.EncodeInt32(nil, v)
	return b
}

func deltaInt64s(v []int64) []byte {
	var enc delta.BinaryPackedEncoding
	b, _ := enc.EncodeInt64(nil, v)
	return b
}

// blockHeader finishes a per-block header: fields, then their CRC.
func blockHeader(fields ...uint32) []byte {
	var b []byte
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, f)
	}
	return binary.BigEndian.AppendUint32(b, crc(b))
}

// encodeTable splits n items into blocks of blockSize and encodes each.
func encodeTable(n, blockSize int, format, headerSize uint16, block func(lo, hi int) []byte) ([]byte, symbolsBlockHeader) {
	var out []byte
	for lo := 0; lo < n; lo += blockSize {
		out = append(out, block(lo, min(lo+blockSize, n))...)
	}
	return out, symbolsBlockHeader{size: uint32(len(out)), crc: crc(out), length: uint32(n), blockSize: uint32(blockSize), headerSize: headerSize, format: format}
}

func encodeStrings(s []string, blockSize int) ([]byte, symbolsBlockHeader) {
	return encodeTable(len(s), blockSize, blockFormatStrings, stringsHeaderMinSize, func(lo, hi int) []byte {
		width := byte(8)
		for _, x := range s[lo:hi] {
			if len(x) > 255 {
				width = 16
			}
		}
		h := binary.BigEndian.AppendUint32(nil, uint32(hi-lo))
		h = append(h, 0x0b, width, 0, 0) // byte 4 holds garbage, as in the sample
		h = binary.BigEndian.AppendUint32(h, crc(h))
		for _, x := range s[lo:hi] {
			if width == 8 {
				h = append(h, byte(len(x)))
			} else {
				h = binary.BigEndian.AppendUint16(h, uint16(len(x)))
			}
		}
		for _, x := range s[lo:hi] {
			h = append(h, x...)
		}
		return h
	})
}

func encodeFunctions(fs []Function, blockSize int) ([]byte, symbolsBlockHeader) {
	return encodeTable(len(fs), blockSize, blockFormatFunctions, functionsHeaderMinSize, func(lo, hi int) []byte {
		var cols [4][]int32
		for _, f := range fs[lo:hi] {
			cols[0] = append(cols[0], int32(f.Name))
			cols[1] = append(cols[1], int32(f.SystemName))
			cols[2] = append(cols[2], int32(f.Filename))
			cols[3] = append(cols[3], int32(f.StartLine))
		}
		var body []byte
		fields := []uint32{uint32(hi - lo)}
		for _, c := range cols {
			e := deltaInt32s(c)
			fields = append(fields, uint32(len(e)))
			body = append(body, e...)
		}
		return append(blockHeader(fields...), body...)
	})
}

func encodeMappings(ms []Mapping, blockSize int) ([]byte, symbolsBlockHeader) {
	return encodeTable(len(ms), blockSize, blockFormatMappings, mappingsHeaderMinSize, func(lo, hi int) []byte {
		var ints [3][]int32
		var longs [3][]int64
		var any64 [3]bool
		for _, m := range ms[lo:hi] {
			flags := int32(0)
			for k, f := range []bool{m.HasInlineFrames, m.HasLineNumbers, m.HasFilenames, m.HasFunctions} {
				if f {
					flags |= 1 << k
				}
			}
			ints[0] = append(ints[0], int32(m.Filename))
			ints[1] = append(ints[1], int32(m.BuildID))
			ints[2] = append(ints[2], flags)
			for k, v := range []uint64{m.MemoryStart, m.MemoryLimit, m.FileOffset} {
				longs[k] = append(longs[k], int64(v))
				any64[k] = any64[k] || v != 0
			}
		}
		var body []byte
		fields := []uint32{uint32(hi - lo)}
		for _, c := range ints {
			e := deltaInt32s(c)
			fields = append(fields, uint32(len(e)))
			body = append(body, e...)
		}
		for k, c := range longs {
			if !any64[k] {
				fields = append(fields, 0)
				continue
			}
			e := deltaInt64s(c)
			fields = append(fields, uint32(len(e)))
			body = append(body, e...)
		}
		return append(blockHeader(fields...), body...)
	})
}

func encodeLocations(ls []Location, blockSize int) ([]byte, symbolsBlockHeader) {
	return encodeTable(len(ls), blockSize, blockFormatLocations, locationsHeaderMinSize, func(lo, hi int) []byte {
		var mapping, lines []int32
		var counts []byte
		var addrs []int64
		var anyAddr, anyFolded bool
		folded := make([]byte, (hi-lo)/8+1)
		for i, l := range ls[lo:hi] {
			mapping = append(mapping, int32(l.MappingID))
			counts = append(counts, byte(len(l.Lines)))
			for _, ln := range l.Lines {
				lines = append(lines, int32(ln.FunctionID), int32(ln.Line))
			}
			addrs = append(addrs, int64(l.Address))
			anyAddr = anyAddr || l.Address != 0
			if l.IsFolded {
				anyFolded = true
				folded[i>>3] |= 1 << i & 7 // the writer's mask quirk
			}
		}
		me, le := deltaInt32s(mapping), deltaInt32s(lines)
		body := append(append(append([]byte{}, me...), counts...), le...)
		var ae []byte
		if anyAddr {
			ae = deltaInt64s(addrs)
			body = append(body, ae...)
		}
		var fe []byte
		if anyFolded {
			fe = folded
			body = append(body, fe...)
		}
		h := blockHeader(uint32(hi-lo), uint32(len(me)), uint32(len(lines)/2), uint32(len(le)), uint32(len(ae)), uint32(len(fe)))
		return append(h, body...)
	})
}

// testPartition is a partition to write: symbols plus stacks, each a list
// of location positions, leaf first.
type testPartition struct {
	key    uint64
	tables symbolTables
	stacks [][]int32
}

// chunkTrees builds the trees a writer with maxNodes nodes per chunk
// produces and returns, for every stack, its ID.
func chunkTrees(stacks [][]int32, maxNodes int) (trees [][2][]int32, ids []uint64) {
	newTree := func() [2][]int32 { return [2][]int32{{-1}, {0}} }
	cur := newTree()
	children := map[[2]int32]int32{}
	for _, s := range stacks {
		if len(cur[0])+len(s) > maxNodes {
			trees = append(trees, cur)
			cur, children = newTree(), map[[2]int32]int32{}
		}
		node := int32(0)
		for j := len(s) - 1; j >= 0; j-- {
			k := [2]int32{node, s[j]}
			c, ok := children[k]
			if !ok {
				c = int32(len(cur[0]))
				cur[0] = append(cur[0], node)
				cur[1] = append(cur[1], s[j])
				children[k] = c
			}
			node = c
		}
		ids = append(ids, uint64(len(trees))*uint64(maxNodes)+uint64(node))
	}
	return append(trees, cur), ids
}

// encodeFormat3 writes a whole symbols.symdb and returns, per partition,
// the ID of every stack.
func encodeFormat3(parts []testPartition, maxNodes, blockSize int) ([]byte, [][]uint64) {
	var file, index []byte
	index = binary.BigEndian.AppendUint32(index, uint32(len(parts)))
	var allIDs [][]uint64
	for _, p := range parts {
		var blocks [numTables]symbolsBlockHeader
		add := func(t int, data []byte, h symbolsBlockHeader) {
			h.offset = uint64(len(file))
			blocks[t] = h
			file = append(file, data...)
		}
		add(encodeStringsPair(p.tables.strings, blockSize))
		add(encodeMappingsPair(p.tables.mappings, blockSize))
		add(encodeFunctionsPair(p.tables.functions, blockSize))
		add(encodeLocationsPair(p.tables.locations, blockSize))
		trees, ids := chunkTrees(p.stacks, maxNodes)
		allIDs = append(allIDs, ids)
		index = binary.BigEndian.AppendUint64(index, p.key)
		index = binary.BigEndian.AppendUint32(index, uint32(len(trees)))
		for i, t := range trees {
			data := encodeTree(t[0], t[1])
			index = putChunkHeader(index, chunkHeader{
				offset: uint64(len(file)), size: uint64(len(data)), partition: p.key, blockIndex: uint16(i),
				encoding: chunkEncodingGroupVarint, nodes: uint32(len(t[0])), maxNodes: uint32(maxNodes), crc: crc(data),
			})
			file = append(file, data...)
		}
		for t := range blocks {
			index = putSymbolsBlockHeader(index, blocks[t])
		}
	}
	off := len(file)
	file = append(file, encodeIndex(Format3, index)...)
	return append(file, encodeFooter(uint64(off))...), allIDs
}

// These adapt the table encoders to the signature of add in encodeFormat3.
func encodeStringsPair(s []string, bs int) (int, []byte, symbolsBlockHeader) {
	d, h := encodeStrings(s, bs)
	return tableStrings, d, h
}

func encodeMappingsPair(m []Mapping, bs int) (int, []byte, symbolsBlockHeader) {
	d, h := encodeMappings(m, bs)
	return tableMappings, d, h
}

func encodeFunctionsPair(f []Function, bs int) (int, []byte, symbolsBlockHeader) {
	d, h := encodeFunctions(f, bs)
	return tableFunctions, d, h
}

func encodeLocationsPair(l []Location, bs int) (int, []byte, symbolsBlockHeader) {
	d, h := encodeLocations(l, bs)
	return tableLocations, d, h
}

// randomPartition makes a partition with consistent references, including
// the awkward cases: locations without lines, inlined lines, long strings,
// addresses and folded locations.
func randomPartition(rng *rand.Rand, key uint64, nLocs, nStacks int) testPartition {
	p := testPartition{key: key}
	st := &p.tables
	st.strings = []string{""}
	for i := 1; i < 40; i++ {
		n := rng.IntN(20)
		if i%13 == 0 {
			n = 300 + rng.IntN(100) // forces 16-bit lengths
		}
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		st.strings = append(st.strings, string(b))
	}
	ns := uint32(len(st.strings))
	for i := 0; i < 3; i++ {
		st.mappings = append(st.mappings, Mapping{
			MemoryStart: uint64(i) << 20, MemoryLimit: uint64(i+1) << 20, FileOffset: uint64(i * 4096),
			Filename: rng.Uint32N(ns), BuildID: rng.Uint32N(ns),
			HasFunctions: i%2 == 0, HasFilenames: true, HasLineNumbers: i == 1, HasInlineFrames: i == 2,
		})
	}
	for i := 0; i < 25; i++ {
		st.functions = append(st.functions, Function{Name: rng.Uint32N(ns), SystemName: rng.Uint32N(ns), Filename: rng.Uint32N(ns), StartLine: int64(rng.IntN(1000))})
	}
	for i := 0; i < nLocs; i++ {
		l := Location{MappingID: rng.Uint32N(3), Address: 0x400000 + uint64(rng.IntN(1<<20))}
		for j := rng.IntN(4); j > 0; j-- { // 0..3 lines
			l.Lines = append(l.Lines, Line{FunctionID: rng.Uint32N(25), Line: int64(rng.IntN(500))})
		}
		st.locations = append(st.locations, l)
	}
	for i := 0; i < nStacks; i++ {
		s := make([]int32, 1+rng.IntN(8))
		for j := range s {
			s[j] = rng.Int32N(int32(nLocs))
		}
		p.stacks = append(p.stacks, s)
	}
	return p
}

// parquetStacktrace is a row of stacktraces.parquet (meta v1).
type parquetStacktrace struct {
	ID          uint64   `parquet:"ID,delta"`
	LocationIDs []uint64 `parquet:"LocationIDs,list"`
}

// writeParquet writes rows with rowsPerGroup rows per row group.
func writeParquet[T any](tb testing.TB, rows []T, rowsPerGroup int, opts ...parquet.WriterOption) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(int64(rowsPerGroup))}, opts...)...)
	for lo := 0; lo < len(rows); lo += rowsPerGroup {
		if _, err := w.Write(rows[lo:min(lo+rowsPerGroup, len(rows))]); err != nil {
			tb.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func parquetTablesOf(st *symbolTables) ([]ParquetLocation, []ParquetFunction, []ParquetMapping, []ParquetString) {
	var locs []ParquetLocation
	for i, l := range st.locations {
		pl := ParquetLocation{Id: uint64(i + 1), MappingId: uint64(l.MappingID), Address: l.Address, IsFolded: l.IsFolded}
		for _, ln := range l.Lines {
			pl.Line = append(pl.Line, ParquetLine{FunctionId: uint64(ln.FunctionID), Line: ln.Line})
		}
		locs = append(locs, pl)
	}
	var fns []ParquetFunction
	for i, f := range st.functions {
		fns = append(fns, ParquetFunction{Id: uint64(i + 1), Name: int64(f.Name), SystemName: int64(f.SystemName), Filename: int64(f.Filename), StartLine: f.StartLine})
	}
	var maps []ParquetMapping
	for i, m := range st.mappings {
		maps = append(maps, ParquetMapping{Id: uint64(i + 1), MemoryStart: m.MemoryStart, MemoryLimit: m.MemoryLimit, FileOffset: m.FileOffset,
			Filename: int64(m.Filename), BuildId: int64(m.BuildID), HasFunctions: m.HasFunctions, HasFilenames: m.HasFilenames,
			HasLineNumbers: m.HasLineNumbers, HasInlineFrames: m.HasInlineFrames})
	}
	var strs []ParquetString
	for _, s := range st.strings {
		strs = append(strs, ParquetString{String: s})
	}
	return locs, fns, maps, strs
}
