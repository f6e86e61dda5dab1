package symdb

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// maxSharedBytes bounds what a Reader keeps of the columns its partitions
// share; a column beyond the budget is decoded for each partition instead.
const maxSharedBytes = 64 << 20

// stringColumn is the String column of one row group of strings.parquet,
// decoded: its distinct entries and, for every row, the entry it holds.
//
// NOTE: the partitions of a symdb format 2 block take their strings from
// row ranges of the same row group, whose column chunk has one dictionary
// page for all of them (block-format.md §7): most of the bytes of the file.
// The Reader decodes it once and hands each partition a copy of its rows.
type stringColumn struct {
	data    []byte   // the entries, concatenated
	offsets []uint32 // entry i is data[offsets[i]:offsets[i+1]]
	rows    []uint32 // the entry of each row
}

func (sc *stringColumn) sizeBytes() int64 {
	return int64(cap(sc.data)) + 4*int64(cap(sc.offsets)+cap(sc.rows))
}

// sharedColumns are the decoded columns a Reader keeps for its partitions,
// within maxSharedBytes.
type sharedColumns struct {
	mu      sync.Mutex
	strings map[uint32]*stringColumn // by row group
	bytes   int64
	loads   flightGroup[uint32, *stringColumn]
}

// release drops the kept columns.
func (s *sharedColumns) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strings, s.bytes = nil, 0
}

// stringColumn returns the decoded String column of a row group of
// strings.parquet, decoding it on first use.
func (r *Reader) stringColumn(ctx context.Context, pf *parquetFile, rowGroup uint32) (*stringColumn, error) {
	s := &r.shared
	return s.loads.do(ctx, rowGroup,
		func() (*stringColumn, bool) {
			s.mu.Lock()
			defer s.mu.Unlock()
			sc, ok := s.strings[rowGroup]
			return sc, ok
		},
		func(ctx context.Context) (*stringColumn, error) {
			ra, _, err := r.files.ReaderAt(ctx, pf.relPath)
			if err != nil {
				return nil, err
			}
			rec := &recordingReaderAt{ra: ra}
			sc, err := pf.readStringColumn(rec, rowGroup)
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return nil, ctxErr
				}
				return nil, rec.classify(err)
			}
			return sc, nil
		},
		func(sc *stringColumn) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if n := sc.sizeBytes(); s.bytes+n <= maxSharedBytes {
				if s.strings == nil {
					s.strings = make(map[uint32]*stringColumn)
				}
				s.strings[rowGroup] = sc
				s.bytes += n
			}
		},
	)
}

// partitionStrings returns the rows of strings.parquet in ranges, taken
// from the shared decoded columns. All strings alias one buffer of exactly
// their bytes.
func (r *Reader) partitionStrings(ctx context.Context, pf *parquetFile, ranges []rowRange) ([]string, error) {
	rows, err := pf.checkRanges(ranges)
	if err != nil {
		return nil, err
	}
	cols := make([]*stringColumn, len(ranges))
	total := 0
	for i, rr := range ranges {
		if rr.rows == 0 {
			continue
		}
		sc, err := r.stringColumn(ctx, pf, rr.rowGroup)
		if err != nil {
			return nil, err
		}
		if uint64(rr.index)+uint64(rr.rows) > uint64(len(sc.rows)) {
			return nil, fmt.Errorf("%w: row range %v: row group has %d strings", ErrCorrupt, rr, len(sc.rows))
		}
		for _, e := range sc.rows[rr.index : rr.index+rr.rows] {
			total += int(sc.offsets[e+1] - sc.offsets[e])
		}
		cols[i] = sc
	}
	var b strings.Builder
	b.Grow(total)
	ends := make([]int, 0, rows)
	for i, rr := range ranges {
		sc := cols[i]
		if sc == nil {
			continue
		}
		for _, e := range sc.rows[rr.index : rr.index+rr.rows] {
			b.Write(sc.data[sc.offsets[e]:sc.offsets[e+1]])
			ends = append(ends, b.Len())
		}
	}
	all := b.String()
	out := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

// readStringColumn decodes the String column of one row group of
// strings.parquet. Dictionary pages are copied as they are; the values of
// any other page become entries of their own.
func (pf *parquetFile) readStringColumn(ra io.ReaderAt, rowGroup uint32) (sc *stringColumn, err error) {
	defer recoverParquet(&err)
	groups := pf.file.RowGroups()
	if int(rowGroup) >= len(groups) {
		return nil, fmt.Errorf("%w: row group %d of %d", ErrCorrupt, rowGroup, len(groups))
	}
	rr := []rowRange{{rowGroup: rowGroup, rows: uint32(max(groups[rowGroup].NumRows(), 0))}}
	rows, err := pf.checkRanges(rr)
	if err != nil {
		return nil, err
	}
	col, err := pf.column(parquet.ByteArray, false, "String")
	if err != nil {
		return nil, err
	}
	sc = &stringColumn{offsets: []uint32{0}, rows: make([]uint32, 0, rows)}
	addEntry := func(b []byte) error {
		if n := uint64(len(sc.data)) + uint64(len(b)); n > uint64(pf.size) || n > math.MaxUint32 {
			return fmt.Errorf("%w: %d bytes of strings in a file of %d", ErrCorrupt, n, pf.size)
		}
		sc.data = append(sc.data, b...)
		sc.offsets = append(sc.offsets, uint32(len(sc.data)))
		return nil
	}
	var visitErr error
	visit := func(vals []parquet.Value) {
		for i := range vals {
			if visitErr == nil {
				visitErr = addEntry(vals[i].ByteArray())
				sc.rows = append(sc.rows, uint32(len(sc.offsets)-2))
			}
		}
	}
	// A column chunk has at most one dictionary page, which every
	// dictionary-encoded page of the chunk uses.
	dictBase, dictLen := -1, 0
	err = pf.scanColumn(ra, col, rr, func(page parquet.Page, s *scanState) (bool, error) {
		dict := page.Dictionary()
		if dict != nil && len(page.RepetitionLevels()) == 0 && len(page.DefinitionLevels()) == 0 {
			d, dd := page.Data(), dict.Page().Data()
			if d.Kind() == encoding.Int32 && dd.Kind() == encoding.ByteArray {
				if dictBase < 0 {
					values, offsets := dd.ByteArray()
					dictBase, dictLen = len(sc.offsets)-1, len(offsets)-1
					sc.data = slices.Grow(sc.data, len(values))
					sc.offsets = slices.Grow(sc.offsets, dictLen)
					for k := range dictLen {
						if offsets[k] > offsets[k+1] || int(offsets[k+1]) > len(values) {
							return false, fmt.Errorf("%w: dictionary entry %d at [%d, %d) of %d bytes", ErrCorrupt, k, offsets[k], offsets[k+1], len(values))
						}
						if err := addEntry(values[offsets[k]:offsets[k+1]]); err != nil {
							return false, err
						}
					}
				}
				idx := d.Int32()
				n := min(int64(len(idx)), s.left)
				for _, k := range idx[:n] {
					if k < 0 || int(k) >= dictLen {
						return false, fmt.Errorf("%w: dictionary index %d of %d", ErrCorrupt, k, dictLen)
					}
					sc.rows = append(sc.rows, uint32(dictBase+int(k)))
				}
				s.left -= n
				return s.left == 0, nil
			}
		}
		done, err := scanValues(page, s, false, visit)
		if err == nil {
			err = visitErr
		}
		return done, err
	})
	if err != nil {
		return nil, err
	}
	if len(sc.rows) != rows {
		return nil, fmt.Errorf("%w: %d strings in a row group of %d rows", ErrCorrupt, len(sc.rows), rows)
	}
	return sc, nil
}
