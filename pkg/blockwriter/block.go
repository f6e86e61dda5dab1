package blockwriter

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Names of the files of a meta v3 block with symdb format 2.
const (
	metaFilename              = "meta.json"
	indexFilename             = "index.tsdb"
	profilesFilename          = "profiles.parquet"
	symbolsIndexFilename      = "symbols/index.symdb"
	symbolsStacktraceFilename = "symbols/stacktraces.symdb"
	symbolsLocationsFilename  = "symbols/locations.parquet"
	symbolsFunctionsFilename  = "symbols/functions.parquet"
	symbolsMappingsFilename   = "symbols/mappings.parquet"
	symbolsStringsFilename    = "symbols/strings.parquet"
)

// blockFile is one encoded file of a block.
type blockFile struct {
	relPath string
	data    []byte
	// For meta.json's hints; zero when not applicable.
	parquetRowGroups, parquetRows uint64
	tsdbSeries                    uint64
	isParquet, isTSDB             bool
}

// writeBlock encodes b and uploads it, meta.json last. On failure it
// deletes what it uploaded.
func (w *Writer) writeBlock(ctx context.Context, b *blockState) (BlockInfo, error) {
	if len(b.rows) == 0 {
		return BlockInfo{}, errNoRows
	}
	id, err := ulid.New(uint64(b.start/int64(time.Millisecond)), entropy{w.rng})
	if err != nil {
		return BlockInfo{}, fmt.Errorf("block ULID: %w", err)
	}
	dir := path.Join(w.tenant, "phlaredb", id.String())
	info := BlockInfo{ULID: id, Dir: dir, NumSourceProfiles: b.sources, WindowStart: time.Unix(0, b.start).UTC()}

	// Series in label order, numbered 0..n-1.
	series := make([]*seriesState, 0, len(b.series))
	for _, s := range b.series {
		series = append(series, s)
	}
	slices.SortFunc(series, func(x, y *seriesState) int { return compareLabelSets(x.labels, y.labels) })
	for i, s := range series {
		s.index = uint32(i)
	}
	slices.SortFunc(b.rows, func(x, y profileRow) int {
		return cmp.Or(cmp.Compare(x.series.index, y.series.index), cmp.Compare(x.timeNanos, y.timeNanos), cmp.Compare(x.seq, y.seq))
	})
	minNanos, maxNanos := b.rows[0].timeNanos, b.rows[0].timeNanos
	for _, r := range b.rows {
		minNanos, maxNanos = min(minNanos, r.timeNanos), max(maxNanos, r.timeNanos)
		info.NumSamples += len(r.samples)
	}
	info.MinTime, info.MaxTime = floorDiv(minNanos, 1e6), floorDiv(maxNanos, 1e6)
	info.NumSeries, info.NumProfiles = len(series), len(b.rows)

	parts := make([]*partition, 0, len(b.partitions))
	for _, p := range b.partitions {
		parts = append(parts, p)
		info.NumStacktraces += p.numStacks
		info.StacktraceNodes += len(p.parents)
	}
	slices.SortFunc(parts, func(x, y *partition) int { return cmp.Compare(x.key, y.key) })
	info.NumPartitions = len(parts)

	files := []blockFile{{relPath: indexFilename, data: encodeIndex(series), isTSDB: true, tsdbSeries: uint64(len(series))}}
	pf, err := encodeProfiles(b.rows, w.maxRows)
	if err != nil {
		return BlockInfo{}, fmt.Errorf("block %s: %s: %w", id, profilesFilename, err)
	}
	files = append(files, pf)
	sym, err := encodeSymbols(parts)
	if err != nil {
		return BlockInfo{}, fmt.Errorf("block %s: symbols: %w", id, err)
	}
	files = append(files, sym...)
	slices.SortFunc(files, func(x, y blockFile) int { return strings.Compare(x.relPath, y.relPath) })

	meta, err := encodeMeta(id, info, files)
	if err != nil {
		return BlockInfo{}, fmt.Errorf("block %s: %s: %w", id, metaFilename, err)
	}
	files = append(files, blockFile{relPath: metaFilename, data: meta})

	var uploaded []string
	for _, f := range files {
		name := dir + "/" + f.relPath
		if err := w.bkt.Upload(ctx, name, bytes.NewReader(f.data)); err != nil {
			w.deleteObjects(ctx, uploaded)
			return BlockInfo{}, fmt.Errorf("block %s: upload %s: %w", id, f.relPath, err)
		}
		uploaded = append(uploaded, name)
		info.SizeBytes += int64(len(f.data))
	}
	return info, nil
}

// deleteObjects removes a failed block's objects, best effort, even when
// ctx is already cancelled.
func (w *Writer) deleteObjects(ctx context.Context, names []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, n := range names {
		_ = w.bkt.Delete(ctx, n)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
