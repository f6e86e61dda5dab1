package blockwriter

import (
	"bytes"
	"fmt"

	"github.com/parquet-go/parquet-go"
)

// Row types of profiles.parquet with the variant D schema
// (block-format.md §5.2). Optional scalars are written as null when zero,
// as Pyroscope does.
type (
	parquetProfile struct {
		ID                  [16]byte            `parquet:"ID,uuid"`
		SeriesIndex         uint32              `parquet:"SeriesIndex,delta"`
		StacktracePartition uint64              `parquet:"StacktracePartition,delta"`
		TotalValue          uint64              `parquet:"TotalValue,delta"`
		Samples             []parquetSample     `parquet:"Samples,list"`
		DropFrames          int64               `parquet:"DropFrames,optional,delta"`
		KeepFrames          int64               `parquet:"KeepFrames,optional,delta"`
		TimeNanos           int64               `parquet:"TimeNanos,timestamp(nanosecond)"`
		DurationNanos       int64               `parquet:"DurationNanos,optional"`
		Period              int64               `parquet:"Period,optional"`
		Comments            []int64             `parquet:"Comments,list"`
		DefaultSampleType   int64               `parquet:"DefaultSampleType,optional"`
		Annotations         []parquetAnnotation `parquet:"Annotations,list"`
	}
	parquetSample struct {
		StacktraceID uint64               `parquet:"StacktraceID,delta"`
		Value        int64                `parquet:"Value,delta"`
		Labels       []parquetSampleLabel `parquet:"Labels,list"`
		SpanID       uint64               `parquet:"SpanID,optional,dict"`
		TraceID      [16]byte             `parquet:"TraceID,optional,dict"`
	}
	parquetSampleLabel struct {
		Key     int64 `parquet:"Key,delta"`
		Str     int64 `parquet:"Str,optional,delta"`
		Num     int64 `parquet:"Num,optional,delta"`
		NumUnit int64 `parquet:"NumUnit,optional,delta"`
	}
	parquetAnnotation struct {
		Key   string `parquet:"Key"`
		Value string `parquet:"Value"`
	}
)

// profilesWriteBatch is how many rows are converted and written at once.
const profilesWriteBatch = 1024

// encodeProfiles writes rows, already sorted by (SeriesIndex, TimeNanos),
// as an uncompressed profiles.parquet.
func encodeProfiles(rows []profileRow, maxRowsPerGroup int) (blockFile, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetProfile](&buf,
		parquet.MaxRowsPerRowGroup(int64(maxRowsPerGroup)),
		parquet.CreatedBy("github.com/cinder-profiling/cinder", "blockwriter", ""),
	)
	batch := make([]parquetProfile, 0, profilesWriteBatch)
	var samples []parquetSample
	flush := func() error {
		_, err := w.Write(batch)
		batch, samples = batch[:0], samples[:0]
		return err
	}
	for i := range rows {
		r := &rows[i]
		start := len(samples)
		for _, s := range r.samples {
			samples = append(samples, parquetSample{StacktraceID: uint64(s.stacktraceID), Value: s.value})
		}
		batch = append(batch, parquetProfile{
			ID:                  r.id,
			SeriesIndex:         r.series.index,
			StacktracePartition: r.partition,
			TotalValue:          r.total,
			Samples:             samples[start:len(samples):len(samples)],
			DropFrames:          r.dropFrames,
			KeepFrames:          r.keepFrames,
			TimeNanos:           r.timeNanos,
			DurationNanos:       r.durationNanos,
			Period:              r.period,
			Comments:            r.comments,
			DefaultSampleType:   r.defaultSampleType,
		})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return blockFile{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return blockFile{}, err
	}
	if err := w.Close(); err != nil {
		return blockFile{}, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()), parquet.SkipPageIndex(true))
	if err != nil {
		return blockFile{}, fmt.Errorf("reopen: %w", err)
	}
	return blockFile{
		relPath: profilesFilename, data: buf.Bytes(), isParquet: true,
		parquetRowGroups: uint64(len(f.RowGroups())), parquetRows: uint64(f.NumRows()),
	}, nil
}
