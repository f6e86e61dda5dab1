package symdb

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// symdb format versions, as the index header states them (block-format.md
// §8.1). They are not the meta.json version.
const (
	FormatStacktracesParquet = 0 // meta v1: no symdb, stacktraces.parquet
	Format1                  = 1 // meta v2: partitioned trees, global parquet tables
	Format2                  = 2 // meta v3: trees plus parquet row ranges per partition
	Format3                  = 3 // meta v3: everything in symbols.symdb
)

// Layout constants of the symdb index and footer (block-format.md §8).
const (
	symdbMagic             = "sym1"
	indexHeaderSize        = 16
	indexTOCSize           = 16
	indexCRCSize           = 4
	indexMinSize           = indexHeaderSize + indexTOCSize + indexCRCSize
	chunkHeaderSize        = 64
	rowRangeSize           = 12
	symbolsBlockHeaderSize = 32
	footerSize             = 24

	// Smallest partition headers, used to bound counts before allocating.
	format2PartitionMinSize = 8 + 4*5
	format3PartitionMinSize = 8 + 4 + 4*symbolsBlockHeaderSize

	chunkEncodingGroupVarint = 1
)

// chunkHeader is a StacktraceBlockHeader (§8.2): where one stack-trace
// chunk lies and how many nodes it has.
type chunkHeader struct {
	offset      uint64
	size        uint64
	partition   uint64
	blockIndex  uint16
	encoding    byte
	stacktraces uint32
	nodes       uint32 // N
	maxDepth    uint32
	maxNodes    uint32 // M, the ID space of a chunk
	crc         uint32
}

// rowRange is a RowRangeReference (§8.4): rows [index, index+rows) of one
// row group of a parquet symbol table.
type rowRange struct {
	rowGroup uint32
	index    uint32
	rows     uint32
}

// symbolsBlockHeader is a SymbolsBlockHeader (§8.5): where one encoded
// symbol table of a format 3 partition lies and how it is split.
type symbolsBlockHeader struct {
	offset     uint64
	size       uint32
	crc        uint32
	length     uint32 // number of items
	blockSize  uint32 // items per encoded block
	headerSize uint16 // per-block header size
	format     uint16
}

// Symbol table kinds, in the order of format 3 partition headers.
const (
	tableLocations = iota
	tableMappings
	tableFunctions
	tableStrings
	numTables
)

var tableNames = [numTables]string{"locations", "mappings", "functions", "strings"}

// partitionHeader is what the index says about one partition.
type partitionHeader struct {
	key    uint64
	chunks []chunkHeader
	// Format 2: row ranges of the parquet tables, by table kind.
	ranges [numTables][]rowRange
	// Format 3: the encoded tables, by table kind.
	blocks [numTables]symbolsBlockHeader
}

// symdbIndex is a decoded index.symdb or the index section of symbols.symdb.
type symdbIndex struct {
	format     int
	partitions []partitionHeader // in index order
	byKey      map[uint64]int
}

// decodeIndex decodes and checks a whole index: header, TOC, data section
// and trailing CRC. Errors name the part of the index that was bad; the
// caller adds the file name.
func decodeIndex(b []byte) (*symdbIndex, error) {
	if len(b) < indexMinSize {
		return nil, fmt.Errorf("index of %d bytes is shorter than the %d-byte minimum: %w", len(b), indexMinSize, encoding.ErrShortData)
	}
	body := b[:len(b)-indexCRCSize]
	if err := encoding.VerifyCRC32C(body, binary.BigEndian.Uint32(b[len(body):])); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if string(b[:4]) != symdbMagic {
		return nil, fmt.Errorf("index header: %w %q", ErrMagic, b[:4])
	}
	format := binary.BigEndian.Uint32(b[4:8])
	if format < Format1 || format > Format3 {
		return nil, fmt.Errorf("index header: %w %d", ErrFormatVersion, format)
	}
	// Bytes 8..15 are reserved; older writers put a header CRC in 12..15.
	size := binary.BigEndian.Uint64(b[16:24]) // Size precedes Offset.
	off := binary.BigEndian.Uint64(b[24:32])
	if off < indexHeaderSize+indexTOCSize || off > uint64(len(body)) || size > uint64(len(body))-off {
		return nil, fmt.Errorf("index TOC: data section at offset %d, size %d does not fit in %d bytes: %w", off, size, len(body), encoding.ErrShortData)
	}
	data := body[off : off+size]
	idx := &symdbIndex{format: int(format)}
	var err error
	switch format {
	case Format1:
		err = idx.decodeFormat1(data)
	case Format2:
		err = idx.decodeFormat23(data, Format2)
	case Format3:
		err = idx.decodeFormat23(data, Format3)
	}
	if err != nil {
		return nil, err
	}
	return idx, nil
}

// decodeFormat1 groups a plain array of chunk headers into partitions:
// consecutive headers with the same key form one partition (§8.3).
func (idx *symdbIndex) decodeFormat1(data []byte) error {
	if len(data)%chunkHeaderSize != 0 {
		return fmt.Errorf("index data: %d bytes is not a whole number of %d-byte chunk headers", len(data), chunkHeaderSize)
	}
	n := len(data) / chunkHeaderSize
	all := make([]chunkHeader, n)
	d := encoding.Decbuf{B: data}
	for i := range all {
		all[i] = decodeChunkHeader(&d)
	}
	idx.byKey = make(map[uint64]int)
	for i := 0; i < n; {
		j := i + 1
		for j < n && all[j].partition == all[i].partition {
			j++
		}
		if err := idx.add(partitionHeader{key: all[i].partition, chunks: all[i:j:j]}); err != nil {
			return err
		}
		i = j
	}
	return d.Err()
}

// decodeFormat23 decodes the partition headers of formats 2 and 3.
func (idx *symdbIndex) decodeFormat23(data []byte, format int) error {
	d := encoding.Decbuf{B: data}
	minSize := format2PartitionMinSize
	if format == Format3 {
		minSize = format3PartitionMinSize
	}
	n := d.Count(minSize)
	if d.Err() != nil {
		return fmt.Errorf("index data: partition count: %w", d.Err())
	}
	idx.partitions = make([]partitionHeader, 0, n)
	idx.byKey = make(map[uint64]int, n)
	for i := 0; i < n; i++ {
		var p partitionHeader
		var err error
		if format == Format2 {
			p, err = decodeFormat2Partition(&d)
		} else {
			p, err = decodeFormat3Partition(&d)
		}
		if err != nil {
			return fmt.Errorf("index data: partition header %d of %d: %w", i, n, err)
		}
		if err := idx.add(p); err != nil {
			return err
		}
	}
	if d.Len() != 0 {
		return fmt.Errorf("index data: %d bytes left after %d partition headers", d.Len(), n)
	}
	return nil
}

func (idx *symdbIndex) add(p partitionHeader) error {
	if _, dup := idx.byKey[p.key]; dup {
		return fmt.Errorf("index data: partition %d is listed twice", p.key)
	}
	idx.byKey[p.key] = len(idx.partitions)
	idx.partitions = append(idx.partitions, p)
	return nil
}

func decodeFormat2Partition(d *encoding.Decbuf) (partitionHeader, error) {
	p := partitionHeader{key: d.Be64()}
	nChunks := d.Be32()
	var nRanges [numTables]uint32
	for t := range nRanges {
		nRanges[t] = d.Be32()
	}
	if d.Err() != nil {
		return p, d.Err()
	}
	// Check the whole header fits before allocating anything.
	need := uint64(nChunks) * chunkHeaderSize
	for _, n := range nRanges {
		need += uint64(n) * rowRangeSize
	}
	if need > uint64(d.Len()) {
		return p, fmt.Errorf("partition %d: %d chunks and %v row ranges need %d bytes, %d left: %w", p.key, nChunks, nRanges, need, d.Len(), encoding.ErrShortData)
	}
	p.chunks = decodeChunkHeaders(d, int(nChunks))
	for t, n := range nRanges {
		rr := make([]rowRange, n)
		for i := range rr {
			rr[i] = rowRange{rowGroup: d.Be32(), index: d.Be32(), rows: d.Be32()}
		}
		p.ranges[t] = rr
	}
	return p, d.Err()
}

func decodeFormat3Partition(d *encoding.Decbuf) (partitionHeader, error) {
	p := partitionHeader{key: d.Be64()}
	nChunks := d.Count(chunkHeaderSize)
	if d.Err() != nil {
		return p, d.Err()
	}
	p.chunks = decodeChunkHeaders(d, nChunks)
	for t := range p.blocks {
		p.blocks[t] = decodeSymbolsBlockHeader(d)
	}
	return p, d.Err()
}

func decodeChunkHeaders(d *encoding.Decbuf, n int) []chunkHeader {
	chunks := make([]chunkHeader, n)
	for i := range chunks {
		chunks[i] = decodeChunkHeader(d)
	}
	return chunks
}

func decodeChunkHeader(d *encoding.Decbuf) chunkHeader {
	var h chunkHeader
	h.offset = d.Be64()
	h.size = d.Be64()
	h.partition = d.Be64()
	h.blockIndex = d.Be16()
	d.Skip(1)
	h.encoding = d.Byte()
	d.Skip(4)
	h.stacktraces = d.Be32()
	h.nodes = d.Be32()
	h.maxDepth = d.Be32()
	h.maxNodes = d.Be32()
	d.Skip(12)
	h.crc = d.Be32()
	return h
}

func decodeSymbolsBlockHeader(d *encoding.Decbuf) symbolsBlockHeader {
	var h symbolsBlockHeader
	h.offset = d.Be64()
	h.size = d.Be32()
	h.crc = d.Be32()
	h.length = d.Be32()
	h.blockSize = d.Be32()
	h.headerSize = d.Be16()
	h.format = d.Be16()
	d.Skip(4)
	return h
}

// decodeFooter decodes the last 24 bytes of symbols.symdb and returns the
// index section's offset, checked against the file size.
func decodeFooter(b []byte, fileSize int64) (indexOffset int64, err error) {
	if len(b) != footerSize {
		return 0, fmt.Errorf("footer: %d bytes instead of %d: %w", len(b), footerSize, encoding.ErrShortData)
	}
	if err := encoding.VerifyCRC32C(b[:20], binary.BigEndian.Uint32(b[20:])); err != nil {
		return 0, fmt.Errorf("footer: %w", err)
	}
	if string(b[:4]) != symdbMagic {
		return 0, fmt.Errorf("footer: %w %q", ErrMagic, b[:4])
	}
	if v := binary.BigEndian.Uint32(b[4:8]); v != Format3 {
		return 0, fmt.Errorf("footer: %w %d", ErrFormatVersion, v)
	}
	off := binary.BigEndian.Uint64(b[8:16])
	if off > math.MaxInt64 || int64(off) > fileSize-footerSize || fileSize-footerSize-int64(off) < indexMinSize {
		return 0, fmt.Errorf("footer: index offset %d leaves no room for an index in a %d-byte file: %w", off, fileSize, encoding.ErrShortData)
	}
	return int64(off), nil
}
