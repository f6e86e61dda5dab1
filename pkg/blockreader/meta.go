package blockreader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// MetaFilename is the name of a block's metadata object, uploaded last.
const MetaFilename = "meta.json"

// Meta versions that Phlare and Pyroscope have written.
const (
	MetaVersion1 = 1 // Phlare before symdb: stacktraces.parquet at the root.
	MetaVersion2 = 2 // Phlare with symdb format 1.
	MetaVersion3 = 3 // Pyroscope: symdb format 2 or 3.
)

// Errors a meta.json can be rejected with.
var (
	ErrMetaVersion = errors.New("unsupported meta.json version")
	ErrMetaNoFiles = errors.New("meta.json lists no files")
	ErrMetaULID    = errors.New("meta.json has no valid ulid")
)

// Meta is the decoded meta.json of one block. Times are milliseconds since
// the Unix epoch; both MinTime and MaxTime are inclusive of data.
type Meta struct {
	ULID       ulid.ULID         `json:"ulid"`
	MinTime    Time              `json:"minTime"`
	MaxTime    Time              `json:"maxTime"`
	Stats      BlockStats        `json:"stats"`
	Files      []File            `json:"files"`
	Compaction Compaction        `json:"compaction"`
	Version    int               `json:"version"`
	Labels     map[string]string `json:"labels"`
	Source     string            `json:"source,omitempty"`
	Downsample struct {
		Resolution int64 `json:"resolution"`
	} `json:"downsample"`
}

// BlockStats are the counts a writer recorded. They are hints only: old
// blocks are known to disagree with their own tables.
type BlockStats struct {
	NumSamples  uint64 `json:"numSamples,omitempty"`
	NumSeries   uint64 `json:"numSeries,omitempty"`
	NumProfiles uint64 `json:"numProfiles,omitempty"`
}

// File is one entry of meta.json's files list.
type File struct {
	RelPath   string `json:"relPath"`
	SizeBytes uint64 `json:"sizeBytes,omitempty"`
	Parquet   *struct {
		NumRowGroups uint64 `json:"numRowGroups,omitempty"`
		NumRows      uint64 `json:"numRows,omitempty"`
	} `json:"parquet,omitempty"`
	TSDB *struct {
		NumSeries uint64 `json:"numSeries,omitempty"`
	} `json:"tsdb,omitempty"`
}

// Compaction describes where a block came from.
type Compaction struct {
	Level     int           `json:"level"`
	Sources   []ulid.ULID   `json:"sources,omitempty"`
	Parents   []BlockParent `json:"parents,omitempty"`
	Deletable bool          `json:"deletable,omitempty"`
	Failed    bool          `json:"failed,omitempty"`
	Hints     []string      `json:"hints,omitempty"`
}

// BlockParent is a block that a compacted block was made from.
type BlockParent struct {
	ULID    ulid.ULID `json:"ulid"`
	MinTime Time      `json:"minTime"`
	MaxTime Time      `json:"maxTime"`
}

// ParseMeta decodes and checks a meta.json document. A block whose meta is
// rejected here must not be served.
func ParseMeta(data []byte) (*Meta, error) {
	var m Meta
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode meta.json: %w", err)
	}
	// Anything after the object means the file is not what was written.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode meta.json: data after the top-level object")
	}
	if m.ULID == (ulid.ULID{}) {
		return nil, ErrMetaULID
	}
	if m.Version < MetaVersion1 || m.Version > MetaVersion3 {
		return nil, fmt.Errorf("%w: %d", ErrMetaVersion, m.Version)
	}
	if len(m.Files) == 0 {
		return nil, ErrMetaNoFiles
	}
	if m.MinTime > m.MaxTime {
		return nil, fmt.Errorf("meta.json minTime %d is after maxTime %d", m.MinTime, m.MaxTime)
	}
	for _, f := range m.Files {
		if !ValidRelPath(f.RelPath) {
			return nil, fmt.Errorf("meta.json lists an invalid file path %q", f.RelPath)
		}
	}
	return &m, nil
}

// ValidRelPath reports whether p is a clean relative path that stays inside
// the block directory.
func ValidRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, '\\') || strings.ContainsRune(p, 0) {
		return false
	}
	c := path.Clean(p)
	return c == p && c != "." && c != ".." && !strings.HasPrefix(c, "../")
}

// File returns the entry whose relPath is exactly relPath.
func (m *Meta) File(relPath string) (File, bool) {
	for _, f := range m.Files {
		if f.RelPath == relPath {
			return f, true
		}
	}
	return File{}, false
}

// FileByBaseName returns the first entry whose base name is name. Symbol
// files are looked up this way because their directory changed across
// versions.
func (m *Meta) FileByBaseName(name string) (File, bool) {
	for _, f := range m.Files {
		if path.Base(f.RelPath) == name {
			return f, true
		}
	}
	return File{}, false
}

// Overlaps reports whether the block holds data in the inclusive range
// [start, end] (milliseconds).
func (m *Meta) Overlaps(start, end int64) bool {
	return int64(m.MinTime) <= end && int64(m.MaxTime) >= start
}

// Time is a millisecond timestamp that meta.json writes as a JSON number of
// seconds with up to three fractional digits.
type Time int64

// UnmarshalJSON parses the number textually: going through float64 would
// lose milliseconds on current epoch values.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	v, err := parseSecondsMillis(s)
	if err != nil {
		return fmt.Errorf("time %q: %w", s, err)
	}
	*t = Time(v)
	return nil
}

// MarshalJSON writes seconds with the fraction trimmed of trailing zeros.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(formatSecondsMillis(int64(t))), nil
}

var errTimeSyntax = errors.New("not a decimal number of seconds")

func parseSecondsMillis(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, errTimeSyntax
	}
	if len(frac) > 3 {
		frac = frac[:3]
	}
	frac += strings.Repeat("0", 3-len(frac))
	ms, _ := strconv.ParseInt(frac, 10, 64)
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec > (math.MaxInt64-ms)/1000 {
		return 0, errTimeSyntax
	}
	v := sec*1000 + ms
	if neg {
		v = -v
	}
	return v, nil
}

func formatSecondsMillis(v int64) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign = "-"
		u = uint64(-v)
	}
	s := sign + strconv.FormatUint(u/1000, 10)
	if ms := u % 1000; ms != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", ms), "0")
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
