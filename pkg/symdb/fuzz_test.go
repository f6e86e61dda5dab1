package symdb

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
)

// Seeds are built by the test writer, so the fuzz targets run without the
// shared test data.

func FuzzTreeDecoder(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x00, 0x02, 0x02, 0x00, 0x02, 0x01, 0x02, 0x00}, uint16(4))
	f.Add(encodeTree([]int32{-1, 0, 1, 1, 0}, []int32{0, 1 << 20, 3, 300, 70000}), uint16(5))
	rng := newRand(11)
	parents, locs := []int32{-1}, []int32{0}
	for i := 1; i < 200; i++ {
		parents = append(parents, rng.Int32N(int32(i)))
		locs = append(locs, rng.Int32N(1<<24))
	}
	f.Add(encodeTree(parents, locs), uint16(200))
	f.Fuzz(func(t *testing.T, data []byte, n uint16) {
		nodes := min(int(n), int(maxTreeNodes(uint64(len(data)))))
		parents, locs, err := decodeTreeSlices(nodes, data)
		if err != nil {
			return
		}
		for i, p := range parents {
			if p < -1 || int(p) >= i {
				t.Fatalf("node %d has parent %d", i, p)
			}
		}
		// What decoded must survive a round trip through the writer.
		again, againLocs, err := decodeTreeSlices(nodes, encodeTree(parents, locs))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(again, parents) || !slices.Equal(againLocs, locs) {
			t.Fatal("round trip differs")
		}
	})
}

func FuzzSymdbIndex(f *testing.F) {
	var f1 []byte
	for i, k := range []uint64{0, 0, 1, 1, 1} {
		f1 = putChunkHeader(f1, chunkHeader{offset: uint64(i * 10), size: 10, partition: k, blockIndex: uint16(i), encoding: 1, nodes: 4, maxNodes: 7})
	}
	f.Add(encodeIndex(Format1, f1), false)
	f.Add(encodeIndex(Format2, format2Index(3, 9)), false)
	parts := []testPartition{randomPartition(newRand(12), 1, 10, 10), randomPartition(newRand(13), 2, 10, 10)}
	file, _ := encodeFormat3(parts, 16, 4)
	f.Add(file, false)
	off := binary.BigEndian.Uint64(file[len(file)-16:])
	f.Add(file[off:len(file)-footerSize], false)
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC && len(data) >= indexMinSize {
			data = slices.Clone(data)
			binary.BigEndian.PutUint32(data[len(data)-4:], crc(data[:len(data)-4]))
		}
		if idx, err := decodeIndex(data); err == nil {
			for i, p := range idx.partitions {
				if idx.byKey[p.key] != i {
					t.Fatalf("partition %d is not found by its key", i)
				}
			}
		}
		if len(data) >= footerSize {
			footer := slices.Clone(data[len(data)-footerSize:])
			if fixCRC {
				binary.BigEndian.PutUint32(footer[20:], crc(footer[:20]))
			}
			if off, err := decodeFooter(footer, int64(len(data))); err == nil {
				if off < 0 || off > int64(len(data))-footerSize-indexMinSize {
					t.Fatalf("index offset %d in %d bytes", off, len(data))
				}
			}
		}
		// The whole format 3 path, from the footer to every partition.
		files := memFiles{"symbols.symdb": data}
		r, err := Open(context.Background(), metaOf(3, files), files)
		if err != nil {
			return
		}
		for _, k := range r.PartitionKeys() {
			if p, err := r.Partition(context.Background(), k); err == nil {
				var buf []int32
				for id := uint64(0); id < uint64(p.Tree.Len())+2; id++ {
					buf, _ = p.AppendLocations(buf[:0], id)
				}
			}
		}
	})
}

func FuzzSymbolBlocks(f *testing.F) {
	p := randomPartition(newRand(14), 0, 12, 0)
	p.tables.locations[1].IsFolded = true
	p.tables.locations[2].Lines = nil
	for _, bs := range []int{3, 1024} {
		for kind, enc := range []func() ([]byte, symbolsBlockHeader){
			func() ([]byte, symbolsBlockHeader) { return encodeLocations(p.tables.locations, bs) },
			func() ([]byte, symbolsBlockHeader) { return encodeMappings(p.tables.mappings, bs) },
			func() ([]byte, symbolsBlockHeader) { return encodeFunctions(p.tables.functions, bs) },
			func() ([]byte, symbolsBlockHeader) { return encodeStrings(p.tables.strings, bs) },
		} {
			data, h := enc()
			f.Add(uint8(kind), h.length, h.blockSize, h.headerSize, data)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, length, blockSize uint32, headerSize uint16, data []byte) {
		t.Parallel()
		h := symbolsBlockHeader{size: uint32(len(data)), length: length, blockSize: blockSize, headerSize: headerSize}
		var n int
		var err error
		switch kind % numTables {
		case tableLocations:
			h.format = blockFormatLocations
			var locs []Location
			if locs, err = decodeLocationsTable(h, data, false); err == nil {
				n = len(locs)
				lines := 0
				for _, l := range locs {
					lines += len(l.Lines)
				}
				if lines > 255*n {
					t.Fatalf("%d lines for %d locations", lines, n)
				}
			}
		case tableMappings:
			h.format = blockFormatMappings
			var ms []Mapping
			ms, err = decodeMappingsTable(h, data, false)
			n = len(ms)
		case tableFunctions:
			h.format = blockFormatFunctions
			var fs []Function
			fs, err = decodeFunctionsTable(h, data, false)
			n = len(fs)
		case tableStrings:
			h.format = blockFormatStrings
			var ss []string
			if ss, err = decodeStringsTable(h, data, false); err == nil {
				total := 0
				for _, s := range ss {
					total += len(s)
				}
				if total > len(data) {
					t.Fatalf("%d string bytes from %d bytes", total, len(data))
				}
			}
			n = len(ss)
		}
		if err == nil && n != int(length) {
			t.Fatalf("%d items, header says %d", n, length)
		}
	})
}

func FuzzDeltaBinaryPacked(f *testing.F) {
	f.Add(deltaInt64s([]int64{1, 2, 3, -7, 1 << 40}), uint16(5))
	f.Add(deltaInt32s([]int32{10, 11, 12}), uint16(3))
	f.Add(deltaInt64s(make([]int64, 300)), uint16(300))
	f.Fuzz(func(t *testing.T, data []byte, n uint16) {
		got, err := decodeDelta(nil, data, int(n))
		if err == nil && len(got) != int(n) {
			t.Fatalf("%d values, want %d", len(got), n)
		}
		// Any bytes read as values must survive parquet-go's encoder.
		vals := make([]int64, len(data)/8)
		for i := range vals {
			vals[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
		}
		back, err := decodeDelta(nil, deltaInt64s(vals), len(vals))
		if err != nil || !slices.Equal(back, vals) {
			t.Fatalf("round trip of %v: %v, %v", vals, back, err)
		}
	})
}

// FuzzParquetTables feeds arbitrary bytes to the parquet path: footer and
// page-header checks, then parquet-go, then the column readers.
func FuzzParquetTables(f *testing.F) {
	p := randomPartition(newRand(15), 0, 20, 0)
	p.tables.locations[3].Lines = nil
	locs, fns, mps, strs := parquetTablesOf(&p.tables)
	f.Add(uint8(tableLocations), writeParquet(f, locs, 8))
	f.Add(uint8(tableFunctions), writeParquet(f, fns, 100))
	f.Add(uint8(tableMappings), writeParquet(f, mps, 100))
	f.Add(uint8(tableStrings), writeParquet(f, strs, 100))
	f.Add(uint8(numTables), writeParquet(f, []parquetStacktrace{{LocationIDs: []uint64{1, 2}}, {}, {LocationIDs: []uint64{3}}}, 2))
	f.Fuzz(func(t *testing.T, table uint8, data []byte) {
		files := memFiles{"t.parquet": data}
		pf, err := openParquetFile(context.Background(), files, "t.parquet")
		if err != nil {
			return
		}
		ra, _, _ := files.ReaderAt(context.Background(), "t.parquet")
		ranges, err := pf.allRows()
		if err != nil {
			return
		}
		switch table % (numTables + 1) {
		case tableLocations:
			_, _ = pf.readLocations(ra, ranges)
			if len(ranges) > 0 && ranges[0].rows > 2 { // rows inside a page, counted from its levels
				r := ranges[0]
				_, _ = pf.readLocations(ra, []rowRange{{rowGroup: r.rowGroup, index: 1, rows: r.rows - 2}})
			}
		case tableMappings:
			_, _ = pf.readMappings(ra, ranges)
		case tableFunctions:
			_, _ = pf.readFunctions(ra, ranges)
		case tableStrings:
			_, _ = pf.readStringTable(ra, ranges)
			if len(ranges) > 0 && ranges[0].rows > 2 { // rows that start and end inside runs
				r := ranges[0]
				_, _ = pf.readStringTable(ra, []rowRange{{rowGroup: r.rowGroup, index: 1, rows: r.rows - 2}})
			}
		default:
			_, _, _ = pf.readStacktraces(ra)
		}
	})
}
