package symdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// Symbol block formats and their minimum per-block header sizes
// (block-format.md §9). A header may be longer than the minimum; its CRC
// then covers every byte but the last four, and stays at the same offset.
const (
	blockFormatLocations = 1
	blockFormatFunctions = 2
	blockFormatMappings  = 3
	blockFormatStrings   = 4

	locationsHeaderMinSize = 28
	functionsHeaderMinSize = 24
	mappingsHeaderMinSize  = 32
	stringsHeaderMinSize   = 12
)

// symbolBlocks walks the encoded blocks of one format 3 symbol table.
type symbolBlocks struct {
	h          symbolsBlockHeader
	d          encoding.Decbuf
	headerSize int
	verifyCRC  bool
	scratch    []int64
}

// newSymbolBlocks checks a table header against the bytes of the table and
// against what an item needs at least, so that Length cannot make the
// decoder allocate more than a small multiple of the input.
func newSymbolBlocks(h symbolsBlockHeader, data []byte, wantFormat uint16, minHeaderSize int, maxItemsPerByte uint64, verifyCRC bool) (*symbolBlocks, error) {
	if h.format != wantFormat {
		return nil, fmt.Errorf("%w: block format %d, want %d", ErrFormatVersion, h.format, wantFormat)
	}
	if uint64(len(data)) != uint64(h.size) {
		return nil, fmt.Errorf("table of %d bytes, header says %d: %w", len(data), h.size, encoding.ErrShortData)
	}
	if h.length > 0 && h.blockSize == 0 {
		return nil, fmt.Errorf("%d items in blocks of 0", h.length)
	}
	if uint64(h.length) > uint64(len(data))*maxItemsPerByte {
		return nil, fmt.Errorf("%d items cannot fit in %d bytes", h.length, len(data))
	}
	hs := max(minHeaderSize, int(h.headerSize))
	if h.length > 0 {
		blocks := (uint64(h.length) + uint64(h.blockSize) - 1) / uint64(h.blockSize)
		if blocks*uint64(hs) > uint64(len(data)) {
			return nil, fmt.Errorf("%d blocks of at least %d bytes cannot fit in %d bytes: %w", blocks, hs, len(data), encoding.ErrShortData)
		}
	}
	return &symbolBlocks{h: h, d: encoding.Decbuf{B: data}, headerSize: hs, verifyCRC: verifyCRC}, nil
}

// nextHeader returns the header of the next block, its CRC checked: the
// CRC is stored at crcOff and covers the header bytes before its last four.
func (s *symbolBlocks) nextHeader(crcOff int) (encoding.Decbuf, error) {
	hb := s.d.Bytes(s.headerSize)
	if s.d.Err() != nil {
		return encoding.Decbuf{}, fmt.Errorf("block header: %w", s.d.Err())
	}
	if s.verifyCRC {
		stored := binary.BigEndian.Uint32(hb[crcOff:])
		if err := encoding.VerifyCRC32C(hb[:len(hb)-4], stored); err != nil {
			return encoding.Decbuf{}, fmt.Errorf("block header: %w", err)
		}
	}
	return encoding.Decbuf{B: hb}, nil
}

// forEachBlock calls fn with the item range [lo, hi) of every block.
func (s *symbolBlocks) forEachBlock(fn func(lo, hi int) error) error {
	n := int(s.h.length)
	for lo := 0; lo < n; {
		hi := lo + int(min(uint64(s.h.blockSize), uint64(n-lo)))
		if err := fn(lo, hi); err != nil {
			return fmt.Errorf("block of items %d..%d: %w", lo, hi-1, err)
		}
		lo = hi
	}
	if s.d.Len() != 0 {
		return fmt.Errorf("%d bytes left after %d items", s.d.Len(), n)
	}
	return nil
}

// blockCount reads a block's item count and checks it against the block.
func blockCount(hd *encoding.Decbuf, want int) error {
	if got := hd.Be32(); hd.Err() == nil && int64(got) != int64(want) {
		return fmt.Errorf("block holds %d items, want %d", got, want)
	}
	return nil
}

// column returns the next size bytes of a block payload, delta-decoded into
// exactly n values.
func (s *symbolBlocks) column(name string, size uint32, n int) ([]int64, error) {
	b := s.d.Bytes(int(min(uint64(size), math.MaxInt32)))
	if s.d.Err() != nil || uint64(size) > math.MaxInt32 {
		return nil, fmt.Errorf("%s column of %d bytes: %w", name, size, encoding.ErrShortData)
	}
	var err error
	s.scratch, err = decodeDelta(s.scratch, b, n)
	if err != nil {
		return nil, fmt.Errorf("%s column: %w", name, err)
	}
	return s.scratch, nil
}

// decodeStringsTable decodes a strings table (format 4, §9.2).
func decodeStringsTable(h symbolsBlockHeader, data []byte, verifyCRC bool) ([]string, error) {
	s, err := newSymbolBlocks(h, data, blockFormatStrings, stringsHeaderMinSize, 1, verifyCRC)
	if err != nil {
		return nil, err
	}
	// All strings alias one copy of the table.
	all := string(data)
	out := make([]string, h.length)
	err = s.forEachBlock(func(lo, hi int) error {
		hd, err := s.nextHeader(8)
		if err != nil {
			return err
		}
		if err := blockCount(&hd, hi-lo); err != nil {
			return err
		}
		hd.Skip(1) // unused; may hold garbage
		width := hd.Byte()
		if hd.Err() != nil {
			return hd.Err()
		}
		var lens []byte
		switch width {
		case 8:
			lens = s.d.Bytes(hi - lo)
		case 16:
			lens = s.d.Bytes(2 * (hi - lo))
		default:
			return fmt.Errorf("string length width %d", width)
		}
		if s.d.Err() != nil {
			return fmt.Errorf("string lengths: %w", s.d.Err())
		}
		for i := lo; i < hi; i++ {
			var l int
			if width == 8 {
				l = int(lens[i-lo])
			} else {
				l = int(binary.BigEndian.Uint16(lens[2*(i-lo):]))
			}
			start := len(data) - s.d.Len()
			if s.d.Bytes(l); s.d.Err() != nil {
				return fmt.Errorf("string %d of %d bytes: %w", i, l, s.d.Err())
			}
			out[i] = all[start : start+l]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeFunctionsTable decodes a functions table (format 2, §9.3).
func decodeFunctionsTable(h symbolsBlockHeader, data []byte, verifyCRC bool) ([]Function, error) {
	// Four delta streams need at least 4·5 bytes per 128 items.
	s, err := newSymbolBlocks(h, data, blockFormatFunctions, functionsHeaderMinSize, 8, verifyCRC)
	if err != nil {
		return nil, err
	}
	out := make([]Function, h.length)
	err = s.forEachBlock(func(lo, hi int) error {
		hd, err := s.nextHeader(20)
		if err != nil {
			return err
		}
		if err := blockCount(&hd, hi-lo); err != nil {
			return err
		}
		var sizes [4]uint32
		for k := range sizes {
			sizes[k] = hd.Be32()
		}
		if hd.Err() != nil {
			return hd.Err()
		}
		fns := out[lo:hi]
		for k, name := range [4]string{"Name", "SystemName", "Filename", "StartLine"} {
			v, err := s.column(name, sizes[k], hi-lo)
			if err != nil {
				return err
			}
			for i := range fns {
				switch k {
				case 0:
					fns[i].Name = uint32(v[i])
				case 1:
					fns[i].SystemName = uint32(v[i])
				case 2:
					fns[i].Filename = uint32(v[i])
				case 3:
					fns[i].StartLine = int64(uint32(v[i]))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeMappingsTable decodes a mappings table (format 3, §9.4).
func decodeMappingsTable(h symbolsBlockHeader, data []byte, verifyCRC bool) ([]Mapping, error) {
	s, err := newSymbolBlocks(h, data, blockFormatMappings, mappingsHeaderMinSize, 8, verifyCRC)
	if err != nil {
		return nil, err
	}
	out := make([]Mapping, h.length)
	err = s.forEachBlock(func(lo, hi int) error {
		hd, err := s.nextHeader(28)
		if err != nil {
			return err
		}
		if err := blockCount(&hd, hi-lo); err != nil {
			return err
		}
		var sizes [6]uint32
		for k := range sizes {
			sizes[k] = hd.Be32()
		}
		if hd.Err() != nil {
			return hd.Err()
		}
		ms := out[lo:hi]
		names := [6]string{"Filename", "BuildId", "Flags", "MemoryStart", "MemoryLimit", "FileOffset"}
		for k, name := range names {
			if k >= 3 && sizes[k] == 0 {
				continue // optional int64 columns: absent means zero
			}
			v, err := s.column(name, sizes[k], hi-lo)
			if err != nil {
				return err
			}
			for i := range ms {
				switch k {
				case 0:
					ms[i].Filename = uint32(v[i])
				case 1:
					ms[i].BuildID = uint32(v[i])
				case 2:
					f := uint32(v[i])
					ms[i].HasFunctions = f&(1<<3) != 0
					ms[i].HasFilenames = f&(1<<2) != 0
					ms[i].HasLineNumbers = f&(1<<1) != 0
					ms[i].HasInlineFrames = f&1 != 0
				case 3:
					ms[i].MemoryStart = uint64(v[i])
				case 4:
					ms[i].MemoryLimit = uint64(v[i])
				case 5:
					ms[i].FileOffset = uint64(v[i])
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeLocationsTable decodes a locations table (format 1, §9.5). All
// lines share one backing array.
func decodeLocationsTable(h symbolsBlockHeader, data []byte, verifyCRC bool) ([]Location, error) {
	// Every location has a raw line-count byte.
	s, err := newSymbolBlocks(h, data, blockFormatLocations, locationsHeaderMinSize, 1, verifyCRC)
	if err != nil {
		return nil, err
	}
	out := make([]Location, h.length)
	lineEnd := make([]int, h.length) // lines may still move while blocks are decoded
	var lines []Line
	err = s.forEachBlock(func(lo, hi int) error {
		hd, err := s.nextHeader(24)
		if err != nil {
			return err
		}
		if err := blockCount(&hd, hi-lo); err != nil {
			return err
		}
		mappingSize := hd.Be32()
		linesLen := hd.Be32()
		linesSize := hd.Be32()
		addrSize := hd.Be32()
		foldedSize := hd.Be32()
		if hd.Err() != nil {
			return hd.Err()
		}
		locs := out[lo:hi]
		n := hi - lo
		v, err := s.column("MappingId", mappingSize, n)
		if err != nil {
			return err
		}
		for i := range locs {
			locs[i].MappingID = uint32(v[i])
		}
		counts := s.d.Bytes(n)
		if s.d.Err() != nil {
			return fmt.Errorf("line counts: %w", s.d.Err())
		}
		total := 0
		for i, c := range counts {
			total += int(c)
			lineEnd[lo+i] = len(lines) + total
		}
		if uint64(total) != uint64(linesLen) {
			return fmt.Errorf("line counts add up to %d, header says %d lines", total, linesLen)
		}
		v, err = s.column("Line", linesSize, 2*total)
		if err != nil {
			return err
		}
		lines = slices.Grow(lines, total)
		for k := 0; k < total; k++ {
			lines = append(lines, Line{FunctionID: uint32(v[2*k]), Line: int64(int32(v[2*k+1]))})
		}
		if addrSize > 0 {
			v, err = s.column("Address", addrSize, n)
			if err != nil {
				return err
			}
			for i := range locs {
				locs[i].Address = uint64(v[i])
			}
		}
		if foldedSize > 0 {
			bits := s.d.Bytes(int(min(uint64(foldedSize), math.MaxInt32)))
			if s.d.Err() != nil || uint64(foldedSize) > math.MaxInt32 {
				return fmt.Errorf("IsFolded bitmap of %d bytes: %w", foldedSize, encoding.ErrShortData)
			}
			// The writer masks bit i with 7, so only the first three
			// locations of a block can be folded; decode the same way.
			for i := 0; i < len(locs) && i < 3; i++ {
				locs[i].IsFolded = bits[0]&(1<<i) != 0
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	start := 0
	for i := range out {
		end := lineEnd[i]
		out[i].Lines = lines[start:end:end]
		start = end
	}
	return out, nil
}
