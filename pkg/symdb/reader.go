package symdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/encoding"
)

// Errors a Reader reports, wrapped with the file and part that was bad.
var (
	// ErrPartitionNotFound is returned for a partition key that the symdb
	// index does not list.
	ErrPartitionNotFound = errors.New("partition not found")
	// ErrMissingFile is returned by Open when meta.json does not list a
	// file that the block's symbol format needs.
	ErrMissingFile = errors.New("symbol file not listed in meta.json")
	// ErrCorrupt marks every error caused by the content of a symbol file
	// rather than by reading it.
	ErrCorrupt = errors.New("corrupt symbol data")
	// ErrChecksum is a CRC32C mismatch; it is also ErrCorrupt. It is
	// encoding.ErrChecksum, the error blockreader reports too.
	ErrChecksum = encoding.ErrChecksum
	// ErrMagic is a symdb header or footer without "sym1"; it is also
	// ErrCorrupt.
	ErrMagic = errors.New("bad magic number")
	// ErrFormatVersion is a symdb or symbol-block format this package does
	// not know; it is also ErrCorrupt.
	ErrFormatVersion = errors.New("unsupported format version")
)

// Names of the symbol files, looked up by base name as Pyroscope does: their
// directory changed across versions.
const (
	stacktracesParquetName = "stacktraces.parquet"
	indexSymdbName         = "index.symdb"
	stacktracesSymdbName   = "stacktraces.symdb"
	symbolsSymdbName       = "symbols.symdb"
)

var tableFileNames = [numTables]string{
	tableLocations: "locations.parquet",
	tableMappings:  "mappings.parquet",
	tableFunctions: "functions.parquet",
	tableStrings:   "strings.parquet",
}

// IsSymbolFile reports whether a block file, named by its path in the
// block, is one of the symbol files this package reads.
func IsSymbolFile(relPath string) bool {
	switch path.Base(relPath) {
	case stacktracesParquetName, indexSymdbName, stacktracesSymdbName, symbolsSymdbName:
		return true
	}
	return slices.Contains(tableFileNames[:], path.Base(relPath))
}

// corruptError marks a decoding error as ErrCorrupt without changing its
// message.
type corruptError struct{ err error }

func (e corruptError) Error() string   { return e.err.Error() }
func (e corruptError) Unwrap() []error { return []error{e.err, ErrCorrupt} }

func corrupt(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) {
		return err
	}
	return corruptError{err}
}

// PartitionCache keeps the partitions a Reader has loaded. Implementations
// must be safe for concurrent use, must not call back into the Reader, and
// may drop entries at any time: a dropped partition is loaded again on its
// next use (concurrent requests for it still share one load). The default
// keeps every partition for the life of the Reader.
type PartitionCache interface {
	Get(key uint64) (*Partition, bool)
	Add(key uint64, p *Partition)
}

// Option configures a Reader.
type Option func(*Reader)

// WithPartitionCache makes the Reader keep loaded partitions in c instead of
// holding all of them.
func WithPartitionCache(c PartitionCache) Option {
	return func(r *Reader) { r.cache = c }
}

// WithBuffers has the Reader borrow the scratch of its partition loads from
// b, and give it back, instead of allocating it for every load.
func WithBuffers(b *Buffers) Option {
	return func(r *Reader) { r.bufs = b }
}

// formatFromIndex is the format of a layout whose index.symdb has not been
// read yet.
const formatFromIndex = -1

// layout says where a block keeps its stack traces and symbols.
type layout struct {
	format     int               // FormatStacktracesParquet, Format1..3 or formatFromIndex
	indexFile  string            // formats 1 and 2: index.symdb
	dataFile   string            // stacktraces.parquet, stacktraces.symdb or symbols.symdb
	tableFiles [numTables]string // formats 0, 1, 2: parquet symbol tables
}

// Reader reads the stack traces and symbols of one block, one partition at
// a time. It is safe for concurrent use; each partition is loaded once and
// then served from the PartitionCache.
type Reader struct {
	files  blockreader.BlockFiles
	layout layout
	index  *symdbIndex // nil for meta v1
	cache  PartitionCache
	bufs   *Buffers // nil: loads allocate their scratch

	partitions flightGroup[uint64, *Partition]
	tables     lazy[*parquetTables] // opened parquet files (formats 0-2)
	root       lazy[*symbolTables]  // block-global symbols (formats 0 and 1)
}

// parquetTables are the opened parquet files of a block.
type parquetTables struct {
	tables      [numTables]*parquetFile
	stacktraces *parquetFile // meta v1 only
}

// symbolTables are the four symbol tables of a partition or block.
type symbolTables struct {
	locations []Location
	mappings  []Mapping
	functions []Function
	strings   []string
}

// Open prepares the symbols of a block for reading. It decides the symbol
// format from meta.Version and the files meta.json lists, and reads and
// verifies the symdb index, nothing else: partitions are read by
// Partition. Errors name the file that was bad; the caller adds the block.
func Open(ctx context.Context, meta *blockreader.Meta, files blockreader.BlockFiles, opts ...Option) (*Reader, error) {
	l, err := layoutOf(meta)
	if err != nil {
		return nil, err
	}
	return open(ctx, files, l, opts...)
}

// layoutOf finds the symbol files of a block (block-format.md §6).
func layoutOf(meta *blockreader.Meta) (layout, error) {
	var l layout
	need := func(name string) (string, error) {
		f, ok := meta.FileByBaseName(name)
		if !ok {
			return "", fmt.Errorf("%s: %w (meta version %d)", name, ErrMissingFile, meta.Version)
		}
		return f.RelPath, nil
	}
	var err error
	switch meta.Version {
	case blockreader.MetaVersion1:
		l.format = FormatStacktracesParquet
		if l.dataFile, err = need(stacktracesParquetName); err != nil {
			return l, err
		}
	case blockreader.MetaVersion2, blockreader.MetaVersion3:
		if f, ok := meta.FileByBaseName(symbolsSymdbName); ok && meta.Version == blockreader.MetaVersion3 {
			l.format = Format3
			l.dataFile = f.RelPath
			return l, nil
		}
		// Format 1 or 2: the index says which.
		l.format = formatFromIndex
		if l.indexFile, err = need(indexSymdbName); err != nil {
			return l, err
		}
		if l.dataFile, err = need(stacktracesSymdbName); err != nil {
			return l, err
		}
	default:
		return l, fmt.Errorf("%w: meta.json version %d", blockreader.ErrMetaVersion, meta.Version)
	}
	for t, name := range tableFileNames {
		if l.tableFiles[t], err = need(name); err != nil {
			return l, err
		}
	}
	return l, nil
}

func open(ctx context.Context, files blockreader.BlockFiles, l layout, opts ...Option) (*Reader, error) {
	r := &Reader{files: files, layout: l}
	for _, o := range opts {
		o(r)
	}
	if r.cache == nil {
		r.cache = new(mapCache)
	}
	switch l.format {
	case FormatStacktracesParquet:
		return r, nil
	case Format3:
		idx, err := readFormat3Index(ctx, files, l.dataFile)
		if err != nil {
			return nil, err
		}
		r.index = idx
	default:
		b, err := files.ReadFile(ctx, l.indexFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.indexFile, err)
		}
		idx, err := decodeIndex(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.indexFile, corrupt(err))
		}
		if idx.format == Format3 {
			return nil, fmt.Errorf("%s: %w", l.indexFile, corrupt(fmt.Errorf("%w: format 3 index outside %s", ErrFormatVersion, symbolsSymdbName)))
		}
		r.index = idx
		r.layout.format = idx.format
	}
	return r, nil
}

// readFormat3Index reads the footer of symbols.symdb and then its index.
func readFormat3Index(ctx context.Context, files blockreader.BlockFiles, relPath string) (*symdbIndex, error) {
	ra, size, err := files.ReaderAt(ctx, relPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", relPath, err)
	}
	if size < footerSize {
		return nil, fmt.Errorf("%s: %w", relPath, corrupt(fmt.Errorf("file of %d bytes has no footer: %w", size, encoding.ErrShortData)))
	}
	footer := make([]byte, footerSize)
	if err := readFull(ra, footer, size-footerSize); err != nil {
		return nil, fmt.Errorf("%s: footer: %w", relPath, err)
	}
	indexOffset, err := decodeFooter(footer, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", relPath, corrupt(err))
	}
	b := make([]byte, size-footerSize-indexOffset)
	if err := readFull(ra, b, indexOffset); err != nil {
		return nil, fmt.Errorf("%s: index: %w", relPath, err)
	}
	idx, err := decodeIndex(b)
	if err == nil && idx.format != Format3 {
		err = fmt.Errorf("%w: index of format %d in %s", ErrFormatVersion, idx.format, symbolsSymdbName)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", relPath, corrupt(err))
	}
	return idx, nil
}

// Format returns the symdb format of the block: FormatStacktracesParquet
// for meta v1, else Format1, Format2 or Format3.
func (r *Reader) Format() int { return r.layout.format }

// PartitionKeys returns the keys of every partition in index order; a meta
// v1 block has the single key 0.
func (r *Reader) PartitionKeys() []uint64 {
	if r.index == nil {
		return []uint64{0}
	}
	keys := make([]uint64, len(r.index.partitions))
	for i := range r.index.partitions {
		keys[i] = r.index.partitions[i].key
	}
	return keys
}

// Partition returns the partition with the given key, loading and checking
// it on first use. For meta v1 blocks the key is ignored: the block is one
// partition with key 0. A key the index does not list is
// ErrPartitionNotFound.
func (r *Reader) Partition(ctx context.Context, key uint64) (*Partition, error) {
	var ph *partitionHeader
	if r.index == nil {
		key = 0
	} else {
		i, ok := r.index.byKey[key]
		if !ok {
			return nil, fmt.Errorf("%s: partition %d: %w", r.indexFileName(), key, ErrPartitionNotFound)
		}
		ph = &r.index.partitions[i]
	}
	return r.partitions.do(ctx, key,
		func() (*Partition, bool) { return r.cache.Get(key) },
		func(ctx context.Context) (*Partition, error) { return r.load(ctx, ph) },
		func(p *Partition) {
			p.setRemeasure(func() {
				// Only while the cache still holds p: a partition it
				// dropped is not brought back.
				if cur, ok := r.cache.Get(key); ok && cur == p {
					r.cache.Add(key, p)
				}
			})
			r.cache.Add(key, p)
		},
	)
}

// locationsSource names where the locations of a partition come from, for
// errors about references into them.
func (r *Reader) locationsSource() string {
	if r.layout.format == Format3 {
		return tableNames[tableLocations]
	}
	return r.layout.tableFiles[tableLocations]
}

func (r *Reader) indexFileName() string {
	if r.layout.indexFile != "" {
		return r.layout.indexFile
	}
	return r.layout.dataFile
}

func (r *Reader) load(ctx context.Context, ph *partitionHeader) (*Partition, error) {
	if r.layout.format == FormatStacktracesParquet {
		return r.loadStacktracesParquet(ctx)
	}
	// What is read is decoded into new memory before load returns, so the
	// bytes can be read into a borrowed buffer.
	buf := r.bufs.get()
	defer func() { r.bufs.put(buf) }()
	p, tableData, err := r.loadStacktraces(ctx, ph, &buf)
	if err != nil {
		return nil, err
	}
	if r.layout.format != Format3 {
		// Only format 3 reads its tables with the chunks: give the buffer
		// back now, so that the table reads borrow it rather than another.
		r.bufs.put(buf)
		buf = nil
	}
	errf := func(err error) error {
		return fmt.Errorf("%s: partition %d: %w", r.layout.dataFile, ph.key, err)
	}
	var st *symbolTables
	switch r.layout.format {
	case Format1:
		if st, err = r.rootTables(ctx); err != nil {
			return nil, err
		}
	case Format2:
		if st, err = r.loadRowRanges(ctx, ph); err != nil {
			return nil, err
		}
	case Format3:
		if st, err = decodeSymbolTables(ph.blocks, tableData); err != nil {
			return nil, errf(corrupt(err))
		}
	}
	if r.layout.format != Format1 { // root tables were checked once, when loaded
		if from, to, err := st.validate(); err != nil {
			if r.layout.format == Format3 {
				return nil, errf(corrupt(fmt.Errorf("%s: %w (in %s)", tableNames[from], err, tableNames[to])))
			}
			return nil, fmt.Errorf("%s: partition %d: %w (in %s)", r.layout.tableFiles[from], ph.key, corrupt(err), r.layout.tableFiles[to])
		}
	}
	if err := p.Tree.checkLocations(len(st.locations)); err != nil {
		// The tree or the locations may be the corrupt part: name both.
		return nil, errf(corrupt(fmt.Errorf("%w (in %s)", err, r.locationsSource())))
	}
	p.Locations, p.Mappings, p.Functions, p.Strings = st.locations, st.mappings, st.functions, st.strings
	return p, nil
}

// loadStacktraces reads the stack-trace chunks of a symdb partition and
// decodes them into a Partition without symbols. For format 3 it also
// returns the bytes of the partition's four symbol tables, which lie next
// to the chunks and are fetched with them, into buf where it can.
func (r *Reader) loadStacktraces(ctx context.Context, ph *partitionHeader, buf *[]byte) (*Partition, [][]byte, error) {
	ra, size, err := r.files.ReaderAt(ctx, r.layout.dataFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.layout.dataFile, err)
	}
	errf := func(err error) error {
		return fmt.Errorf("%s: partition %d: %w", r.layout.dataFile, ph.key, err)
	}
	// One partition's chunks (and, in format 3, its tables) are written
	// together, so they are usually fetched with a single read.
	ranges := make([]byteRange, 0, len(ph.chunks)+numTables)
	for _, c := range ph.chunks {
		ranges = append(ranges, byteRange{c.offset, c.size})
	}
	if r.layout.format == Format3 {
		for _, b := range ph.blocks {
			ranges = append(ranges, byteRange{b.offset, uint64(b.size)})
		}
	}
	data, err := readRanges(ra, size, ranges, buf)
	if err != nil {
		return nil, nil, errf(err)
	}
	p := &Partition{Key: ph.key}
	if p.Tree, p.ids, err = decodeStacktraces(ph.chunks, data[:len(ph.chunks)]); err != nil {
		return nil, nil, errf(corrupt(err))
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return p, data[len(ph.chunks):], nil
}

// decodeStacktraces checks and decodes the chunks of one partition into one
// tree, all chunks concatenated.
func decodeStacktraces(chunks []chunkHeader, data [][]byte) (tree StackTree, ids stacktraceIDs, err error) {
	if len(chunks) == 0 {
		return tree, ids, nil
	}
	var total uint64
	for i, c := range chunks {
		if c.encoding != chunkEncodingGroupVarint {
			return tree, ids, fmt.Errorf("chunk %d: %w: encoding %d", i, ErrFormatVersion, c.encoding)
		}
		if uint64(c.nodes) > maxTreeNodes(c.size) {
			return tree, ids, fmt.Errorf("chunk %d: %d nodes cannot fit in %d bytes", i, c.nodes, c.size)
		}
		total += uint64(c.nodes)
	}
	if total > math.MaxInt32 {
		return tree, ids, fmt.Errorf("%d nodes in %d chunks overflow int32", total, len(chunks))
	}
	if chunks[0].maxNodes == 0 {
		return tree, ids, errors.New("chunk 0: StacktraceMaxNodes is 0")
	}
	b := newStackTreeBuilder(int(total))
	ids.maxNodes = uint64(chunks[0].maxNodes)
	ids.chunkStart = make([]int32, len(chunks)+1)
	for i, c := range chunks {
		if err := encoding.VerifyCRC32C(data[i], c.crc); err != nil {
			return StackTree{}, stacktraceIDs{}, fmt.Errorf("chunk %d: %w", i, err)
		}
		if err := decodeTree(b, int(c.nodes), data[i]); err != nil {
			return StackTree{}, stacktraceIDs{}, fmt.Errorf("chunk %d: %w", i, err)
		}
		ids.chunkStart[i+1] = int32(b.t.n)
	}
	return b.finish(), ids, nil
}

// decodeSymbolTables decodes the four tables of a format 3 partition; data
// holds their bytes in partition header order.
func decodeSymbolTables(blocks [numTables]symbolsBlockHeader, data [][]byte) (*symbolTables, error) {
	for t, h := range blocks {
		if err := encoding.VerifyCRC32C(data[t], h.crc); err != nil {
			return nil, fmt.Errorf("%s: %w", tableNames[t], err)
		}
	}
	var st symbolTables
	var err error
	if st.locations, err = decodeLocationsTable(blocks[tableLocations], data[tableLocations], true); err != nil {
		return nil, fmt.Errorf("locations: %w", err)
	}
	if st.mappings, err = decodeMappingsTable(blocks[tableMappings], data[tableMappings], true); err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	if st.functions, err = decodeFunctionsTable(blocks[tableFunctions], data[tableFunctions], true); err != nil {
		return nil, fmt.Errorf("functions: %w", err)
	}
	if st.strings, err = decodeStringsTable(blocks[tableStrings], data[tableStrings], true); err != nil {
		return nil, fmt.Errorf("strings: %w", err)
	}
	return &st, nil
}

// parquetFiles opens the parquet files of the block once.
func (r *Reader) parquetFiles(ctx context.Context) (*parquetTables, error) {
	return r.tables.get(ctx, func(ctx context.Context) (*parquetTables, error) {
		var pt parquetTables
		for t, relPath := range r.layout.tableFiles {
			f, err := openParquetFile(ctx, r.files, relPath)
			if err != nil {
				return nil, err
			}
			f.bufs = r.bufs
			pt.tables[t] = f
		}
		if r.layout.format == FormatStacktracesParquet {
			f, err := openParquetFile(ctx, r.files, r.layout.dataFile)
			if err != nil {
				return nil, err
			}
			f.bufs = r.bufs
			pt.stacktraces = f
		}
		return &pt, nil
	})
}

// readTables reads the given row ranges of the four parquet tables.
func (r *Reader) readTables(ctx context.Context, ranges [numTables][]rowRange, what string) (*symbolTables, error) {
	pt, err := r.parquetFiles(ctx)
	if err != nil {
		return nil, err
	}
	var st symbolTables
	for t, pf := range pt.tables {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ranges[t] == nil { // the whole table
			if ranges[t], err = pf.allRows(); err != nil {
				return nil, fmt.Errorf("%s: %w", pf.relPath, err)
			}
		}
		ra, _, err := r.files.ReaderAt(ctx, pf.relPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pf.relPath, err)
		}
		rec := &recordingReaderAt{ra: ra}
		switch t {
		case tableLocations:
			st.locations, err = pf.readLocations(rec, ranges[t])
		case tableMappings:
			st.mappings, err = pf.readMappings(rec, ranges[t])
		case tableFunctions:
			st.functions, err = pf.readFunctions(rec, ranges[t])
		case tableStrings:
			st.strings, err = pf.readStringTable(rec, ranges[t])
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, fmt.Errorf("%s: %s%w", pf.relPath, what, rec.classify(err))
		}
	}
	return &st, nil
}

// loadRowRanges reads the symbols of a format 2 partition.
func (r *Reader) loadRowRanges(ctx context.Context, ph *partitionHeader) (*symbolTables, error) {
	var ranges [numTables][]rowRange
	for t := range ranges {
		ranges[t] = ph.ranges[t]
		if ranges[t] == nil {
			ranges[t] = []rowRange{} // no rows, not the whole table
		}
	}
	return r.readTables(ctx, ranges, fmt.Sprintf("partition %d: ", ph.key))
}

// rootTables loads and checks the block-global symbol tables of meta v1
// and v2 blocks once; every partition shares them.
func (r *Reader) rootTables(ctx context.Context) (*symbolTables, error) {
	return r.root.get(ctx, func(ctx context.Context) (*symbolTables, error) {
		st, err := r.readTables(ctx, [numTables][]rowRange{}, "")
		if err != nil {
			return nil, err
		}
		if from, to, err := st.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w (in %s)", r.layout.tableFiles[from], corrupt(err), r.layout.tableFiles[to])
		}
		return st, nil
	})
}

// loadStacktracesParquet loads the single partition of a meta v1 block: the
// rows of stacktraces.parquet, merged into a tree, and the root tables.
func (r *Reader) loadStacktracesParquet(ctx context.Context) (*Partition, error) {
	st, err := r.rootTables(ctx)
	if err != nil {
		return nil, err
	}
	pt, err := r.parquetFiles(ctx)
	if err != nil {
		return nil, err
	}
	pf := pt.stacktraces
	ra, _, err := r.files.ReaderAt(ctx, pf.relPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pf.relPath, err)
	}
	rec := &recordingReaderAt{ra: ra}
	locs, rowLens, err := pf.readStacktraces(rec)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%s: %w", pf.relPath, rec.classify(err))
	}
	p := &Partition{}
	p.Tree, p.ids.leafOfRow, err = buildTrie(locs, rowLens, len(st.locations))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (in %s)", pf.relPath, corrupt(err), r.locationsSource())
	}
	p.ids.rowMode = true
	p.Locations, p.Mappings, p.Functions, p.Strings = st.locations, st.mappings, st.functions, st.strings
	return p, nil
}

// buildTrie merges the leaf-first location lists of stacktraces.parquet
// into a parent-pointer tree rooted at node 0, so that meta v1 stacks look
// like symdb ones. It returns the leaf node of every row, -1 for an empty
// list. Location IDs are checked against nLocations.
func buildTrie(locs []int64, rowLens []int32, nLocations int) (tree StackTree, leafOfRow []int32, err error) {
	if len(locs) >= math.MaxInt32 {
		return tree, nil, fmt.Errorf("%d locations overflow int32 node indexes", len(locs))
	}
	b := newStackTreeBuilder(len(locs)/2 + 1)
	b.add(-1, 0)
	leafOfRow = make([]int32, len(rowLens))
	children := make(map[uint64]int32, len(locs)/2)
	off := 0
	for row, n := range rowLens {
		if n < 0 || int(n) > len(locs)-off {
			return tree, nil, fmt.Errorf("stack trace %d: %d locations past the end of the column", row, n)
		}
		stack := locs[off : off+int(n)]
		off += int(n)
		if n == 0 {
			leafOfRow[row] = -1
			continue
		}
		node := int32(0)
		for j := len(stack) - 1; j >= 0; j-- { // root first
			l := stack[j]
			if l < 0 || l >= int64(nLocations) {
				return tree, nil, fmt.Errorf("stack trace %d: location %d of %d", row, l, nLocations)
			}
			k := uint64(node)<<32 | uint64(l)
			child, ok := children[k]
			if !ok {
				child = int32(b.t.n)
				b.add(node, int32(l))
				children[k] = child
			}
			node = child
		}
		leafOfRow[row] = node
	}
	return b.finish(), leafOfRow, nil
}

// byteRange is a range of a file.
type byteRange struct{ off, size uint64 }

// maxReadGap is how many unwanted bytes readRanges will fetch to save a
// request.
const maxReadGap = 1 << 20

// readRanges reads byte ranges of a file of the given size. Ranges that lie
// close together are fetched with one read, into *buf when it is not nil.
func readRanges(ra io.ReaderAt, size int64, ranges []byteRange, buf *[]byte) ([][]byte, error) {
	out := make([][]byte, len(ranges))
	if len(ranges) == 0 {
		return out, nil
	}
	lo, hi := uint64(math.MaxUint64), uint64(0)
	var total uint64
	for _, r := range ranges {
		if r.off > uint64(size) || r.size > uint64(size)-r.off {
			return nil, corrupt(fmt.Errorf("range [%d, +%d) runs past the end of the %d-byte file: %w", r.off, r.size, size, encoding.ErrShortData))
		}
		lo, hi = min(lo, r.off), max(hi, r.off+r.size)
		total += r.size
	}
	if hi-lo <= total+maxReadGap {
		var data []byte
		if buf != nil {
			data = slices.Grow((*buf)[:0], int(hi-lo))[:hi-lo]
			*buf = data
		} else {
			data = make([]byte, hi-lo)
		}
		if err := readFull(ra, data, int64(lo)); err != nil {
			return nil, err
		}
		for i, r := range ranges {
			out[i] = data[r.off-lo : r.off-lo+r.size : r.off-lo+r.size]
		}
		return out, nil
	}
	for i, r := range ranges {
		out[i] = make([]byte, r.size)
		if err := readFull(ra, out[i], int64(r.off)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readFull fills b from off, accepting io.EOF for a read that ends exactly
// at the end of the file.
func readFull(ra io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read [%d, %d): %w", off, off+int64(len(b)), err)
}
