package blockwriter

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/cinder-profiling/cinder/pkg/encoding"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// symdb format 2 constants (block-format.md §8).
const (
	symdbMagic              = "sym1"
	symdbFormat2            = 2
	symdbIndexHeaderSize    = 16
	symdbTOCSize            = 16
	chunkHeaderSize         = 64
	chunkEncodingGroupVarnt = 1
	// maxNodesPerChunk is StacktraceMaxNodes of current writers: one chunk
	// per partition, so a stack-trace ID is its leaf's node index.
	maxNodesPerChunk = math.MaxUint32
)

// rowRange is a RowRangeReference: rows [index, index+rows) of a row group.
type rowRange struct{ rowGroup, index, rows uint32 }

// encodeSymbols writes the partitions, sorted by key, as symdb format 2:
// the stack-trace trees, the four symbol tables (one row group each, every
// partition a row range of it) and the index.
func encodeSymbols(parts []*partition) ([]blockFile, error) {
	var (
		stacktraces []byte
		locations   []symdb.ParquetLocation
		functions   []symdb.ParquetFunction
		mappings    []symdb.ParquetMapping
		strs        []symdb.ParquetString
		index       encbuf
	)
	index.be32(uint32(len(parts)))
	for _, p := range parts {
		tree := encodeTree(nil, p.parents, p.nodeLocations)
		offset := len(stacktraces)
		stacktraces = append(stacktraces, tree...)

		index.be64(p.key)
		ranges := [4]rowRange{
			{0, uint32(len(locations)), uint32(len(p.locations))},
			{0, uint32(len(mappings)), uint32(len(p.mappings))},
			{0, uint32(len(functions)), uint32(len(p.functions))},
			{0, uint32(len(strs)), uint32(len(p.strings))},
		}
		index.be32(1) // one stack-trace chunk
		for _, r := range ranges {
			if r.rows == 0 {
				index.be32(0) // no range: an empty table, not the whole file
			} else {
				index.be32(1)
			}
		}
		var h [chunkHeaderSize]byte
		binary.BigEndian.PutUint64(h[0:], uint64(offset))
		binary.BigEndian.PutUint64(h[8:], uint64(len(tree)))
		binary.BigEndian.PutUint64(h[16:], p.key)
		h[27] = chunkEncodingGroupVarnt
		binary.BigEndian.PutUint32(h[32:], uint32(p.numStacks))
		binary.BigEndian.PutUint32(h[36:], uint32(len(p.parents)))
		binary.BigEndian.PutUint32(h[44:], maxNodesPerChunk)
		binary.BigEndian.PutUint32(h[60:], encoding.CRC32C(tree))
		index.b = append(index.b, h[:]...)
		for _, r := range ranges {
			if r.rows != 0 {
				index.be32(r.rowGroup)
				index.be32(r.index)
				index.be32(r.rows)
			}
		}

		for _, l := range p.locations {
			pl := symdb.ParquetLocation{Id: uint64(len(locations)), MappingId: uint64(l.mappingID), Address: l.address, IsFolded: l.isFolded}
			if len(l.lines) > 0 {
				pl.Line = make([]symdb.ParquetLine, len(l.lines))
				for j, ln := range l.lines {
					pl.Line[j] = symdb.ParquetLine{FunctionId: uint64(ln.functionID), Line: ln.line}
				}
			}
			locations = append(locations, pl)
		}
		for _, f := range p.functions {
			functions = append(functions, symdb.ParquetFunction{Id: uint64(len(functions)), Name: int64(f.name), SystemName: int64(f.systemName), Filename: int64(f.filename), StartLine: f.startLine})
		}
		for _, m := range p.mappings {
			mappings = append(mappings, symdb.ParquetMapping{
				Id: uint64(len(mappings)), MemoryStart: m.memoryStart, MemoryLimit: m.memoryLimit, FileOffset: m.fileOffset,
				Filename: int64(m.filename), BuildId: int64(m.buildID),
				HasFunctions: m.flags&8 != 0, HasFilenames: m.flags&4 != 0, HasLineNumbers: m.flags&2 != 0, HasInlineFrames: m.flags&1 != 0,
			})
		}
		for _, s := range p.strings {
			strs = append(strs, symdb.ParquetString{ID: uint64(len(strs)), String: s})
		}
	}
	if max(len(locations), len(functions), len(mappings), len(strs)) > math.MaxUint32 {
		return nil, errTooManySymbols
	}

	var files []blockFile
	add := func(relPath string, data []byte, rows int, err error) error {
		if err != nil {
			return err
		}
		f := blockFile{relPath: relPath, data: data}
		if rows >= 0 {
			f.isParquet, f.parquetRows = true, uint64(rows)
			if rows > 0 {
				f.parquetRowGroups = 1
			}
		}
		files = append(files, f)
		return nil
	}
	locData, err := encodeTable(locations)
	if err := add(symbolsLocationsFilename, locData, len(locations), err); err != nil {
		return nil, err
	}
	fnData, err := encodeTable(functions)
	if err := add(symbolsFunctionsFilename, fnData, len(functions), err); err != nil {
		return nil, err
	}
	mapData, err := encodeTable(mappings)
	if err := add(symbolsMappingsFilename, mapData, len(mappings), err); err != nil {
		return nil, err
	}
	strData, err := encodeTable(strs)
	if err := add(symbolsStringsFilename, strData, len(strs), err); err != nil {
		return nil, err
	}
	_ = add(symbolsStacktraceFilename, stacktraces, -1, nil)
	_ = add(symbolsIndexFilename, encodeSymdbIndex(index.b), -1, nil)
	return files, nil
}

// encodeSymdbIndex wraps a format 2 data section into index.symdb: header
// (reserved bytes zero, as current writers leave them), one TOC entry
// (Size, then Offset) and the CRC32C of everything before it.
func encodeSymdbIndex(data []byte) []byte {
	b := make([]byte, 0, symdbIndexHeaderSize+symdbTOCSize+len(data)+4)
	b = append(b, symdbMagic...)
	b = binary.BigEndian.AppendUint32(b, symdbFormat2)
	b = append(b, make([]byte, 8)...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	b = binary.BigEndian.AppendUint64(b, symdbIndexHeaderSize+symdbTOCSize)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, encoding.CRC32C(b))
}

// encodeTable writes rows as an uncompressed parquet file with a single
// row group, so that row ranges are positions in it.
func encodeTable[T any](rows []T) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, parquet.CreatedBy("github.com/cinder-profiling/cinder", "blockwriter", ""))
	if _, err := w.Write(rows); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeTree appends a parent-pointer tree in the group-varint encoding
// (block-format.md §10.2): two nodes per group of four values, parent
// deltas zig-zagged against the previous node's parent, and a stub node
// when the count is odd.
func encodeTree(dst []byte, parents, locs []int32) []byte {
	var vals [4]uint32
	prev := int32(0)
	for i := 0; i < len(parents); i += 2 {
		for k := 0; k < 2; k++ {
			if i+k >= len(parents) {
				vals[2*k], vals[2*k+1] = 0, 0 // stub node
				continue
			}
			d := parents[i+k] - prev
			prev = parents[i+k]
			vals[2*k] = uint32(d<<1 ^ d>>31)
			vals[2*k+1] = uint32(locs[i+k])
		}
		dst = appendGroupVarint(dst, vals)
	}
	return dst
}

// appendGroupVarint appends one group: a control byte holding each value's
// byte length minus one (value 0 in the low bits), then the values
// little-endian in their minimal lengths.
func appendGroupVarint(dst []byte, vals [4]uint32) []byte {
	ctrlAt := len(dst)
	dst = append(dst, 0)
	var ctrl byte
	for k, v := range vals {
		n := 1
		for n < 4 && v>>(8*n) != 0 {
			n++
		}
		ctrl |= byte(n-1) << (2 * k)
		for j := 0; j < n; j++ {
			dst = append(dst, byte(v>>(8*j)))
		}
	}
	dst[ctrlAt] = ctrl
	return dst
}
