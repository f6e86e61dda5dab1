package blockwriter

import (
	"encoding/json"

	"github.com/oklog/ulid/v2"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// metaJSON is meta.json version 3 as Pyroscope writes it (block-format.md
// §3); times use blockreader.Time's seconds-with-fraction encoding.
type metaJSON struct {
	ULID       ulid.ULID         `json:"ulid"`
	MinTime    blockreader.Time  `json:"minTime"`
	MaxTime    blockreader.Time  `json:"maxTime"`
	Stats      metaStats         `json:"stats"`
	Files      []metaFile        `json:"files"`
	Compaction metaCompaction    `json:"compaction"`
	Version    int               `json:"version"`
	Labels     map[string]string `json:"labels"`
	Downsample struct {
		Resolution int64 `json:"resolution"`
	} `json:"downsample"`
}

type metaStats struct {
	NumSamples  uint64 `json:"numSamples,omitempty"`
	NumSeries   uint64 `json:"numSeries,omitempty"`
	NumProfiles uint64 `json:"numProfiles,omitempty"`
}

type metaFile struct {
	RelPath   string       `json:"relPath"`
	SizeBytes uint64       `json:"sizeBytes,omitempty"`
	Parquet   *metaParquet `json:"parquet,omitempty"`
	TSDB      *metaTSDB    `json:"tsdb,omitempty"`
}

type metaParquet struct {
	NumRowGroups uint64 `json:"numRowGroups,omitempty"`
	NumRows      uint64 `json:"numRows,omitempty"`
}

type metaTSDB struct {
	NumSeries uint64 `json:"numSeries,omitempty"`
}

type metaCompaction struct {
	Level   int         `json:"level"`
	Sources []ulid.ULID `json:"sources"`
}

// encodeMeta returns the meta.json of a block whose files (sorted by
// relPath, meta.json not among them) are files.
func encodeMeta(id ulid.ULID, info BlockInfo, files []blockFile) ([]byte, error) {
	m := metaJSON{
		ULID:    id,
		MinTime: blockreader.Time(info.MinTime),
		MaxTime: blockreader.Time(info.MaxTime),
		Stats: metaStats{
			NumSamples:  uint64(info.NumSamples),
			NumSeries:   uint64(info.NumSeries),
			NumProfiles: uint64(info.NumProfiles),
		},
		Compaction: metaCompaction{Level: 1, Sources: []ulid.ULID{id}},
		Version:    blockreader.MetaVersion3,
		Labels:     map[string]string{},
	}
	for _, f := range files {
		mf := metaFile{RelPath: f.relPath, SizeBytes: uint64(len(f.data))}
		if f.isParquet {
			mf.Parquet = &metaParquet{NumRowGroups: f.parquetRowGroups, NumRows: f.parquetRows}
		}
		if f.isTSDB {
			mf.TSDB = &metaTSDB{NumSeries: f.tsdbSeries}
		}
		m.Files = append(m.Files, mf)
	}
	b, err := json.MarshalIndent(&m, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
