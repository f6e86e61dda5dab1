package blockreader

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMetaBlocks(t *testing.T) {
	testdata := sharedTestdata(t)
	for _, b := range testBlocks {
		t.Run(b.ulid, func(t *testing.T) {
			m, err := ParseMeta(readBlockFile(t, testdata, b, MetaFilename))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.ULID.String(); got != b.ulid {
				t.Errorf("ULID = %s, want %s", got, b.ulid)
			}
			if m.Version != b.version {
				t.Errorf("Version = %d, want %d", m.Version, b.version)
			}
			if int64(m.MinTime) != b.minTime || int64(m.MaxTime) != b.maxTime {
				t.Errorf("time range = [%d, %d], want [%d, %d]", m.MinTime, m.MaxTime, b.minTime, b.maxTime)
			}
			if m.Compaction.Level != b.level {
				t.Errorf("compaction level = %d, want %d", m.Compaction.Level, b.level)
			}
			if m.Stats.NumSeries != uint64(b.numSeries) {
				t.Errorf("stats.numSeries = %d, want %d", m.Stats.NumSeries, b.numSeries)
			}
			f, ok := m.File(IndexFilename)
			if !ok {
				t.Fatalf("no %s in files", IndexFilename)
			}
			fi, err := os.Stat(b.path(testdata, IndexFilename))
			if err != nil {
				t.Fatal(err)
			}
			if f.SizeBytes != uint64(fi.Size()) {
				t.Errorf("%s sizeBytes = %d, file has %d", IndexFilename, f.SizeBytes, fi.Size())
			}
			if f.TSDB == nil || f.TSDB.NumSeries != uint64(b.numSeries) {
				t.Errorf("%s tsdb = %+v, want numSeries %d", IndexFilename, f.TSDB, b.numSeries)
			}
			for _, f := range m.Files {
				if !ValidRelPath(f.RelPath) {
					t.Errorf("invalid relPath %q", f.RelPath)
				}
			}
			if !m.Overlaps(b.maxTime, b.maxTime+1) || !m.Overlaps(b.minTime-1, b.minTime) {
				t.Error("block does not overlap its own inclusive bounds")
			}
			if m.Overlaps(b.maxTime+1, b.maxTime+2) || m.Overlaps(b.minTime-2, b.minTime-1) {
				t.Error("block overlaps a range outside its bounds")
			}
		})
	}
}

// TestParseMetaRoundTrip re-encodes every meta.json of the test data: what
// ParseMeta accepted must encode to a document that decodes to the same.
func TestParseMetaRoundTrip(t *testing.T) {
	for name, data := range metaCorpus(t) {
		t.Run(name, func(t *testing.T) { checkMetaRoundTrip(t, data) })
	}
}

func checkMetaRoundTrip(t *testing.T, data []byte) {
	t.Helper()
	m, err := ParseMeta(data)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	m2, err := ParseMeta(enc)
	if err != nil {
		t.Fatalf("parse re-encoded %s: %v", enc, err)
	}
	enc2, err := json.Marshal(m2)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding changed the document:\n%s\n%s", enc, enc2)
	}
}

// handWrittenMetas are meta.json documents in the shapes of every block
// generation, so that the tests and fuzz seeds need no shared data.
var handWrittenMetas = map[string]string{
	"v1": `{"ulid":"01GR3QABQB6J30Q04K4E6MAKRE","minTime":1675162365.672,"maxTime":1675162365.672,
		"stats":{"numSamples":40,"numSeries":2,"numProfiles":2},
		"files":[{"relPath":"functions.parquet","sizeBytes":4918,"parquet":{"numRowGroups":1,"numRows":101}},
			{"relPath":"index.tsdb","sizeBytes":1299,"tsdb":{"numSeries":2}},
			{"relPath":"stacktraces.parquet","sizeBytes":945,"parquet":{"numRowGroups":1,"numRows":24}}],
		"compaction":{"level":0},"version":1}`,
	"v2": `{"ulid":"01H3YE0W63FNXM69N2WVTRBYYK","minTime":1687869747.221,"maxTime":1687869765.512,
		"files":[{"relPath":"index.tsdb","sizeBytes":3796},{"relPath":"symbols/index.symdb","sizeBytes":100}],
		"compaction":{"level":0},"version":2,"labels":null}`,
	"v3": `{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z","minTime":1,"maxTime":20,
		"stats":{"numSamples":20,"numSeries":2,"numProfiles":20},
		"files":[{"relPath":"index.tsdb","sizeBytes":1022,"tsdb":{"numSeries":2}},
			{"relPath":"profiles.parquet","sizeBytes":6856,"parquet":{"numRowGroups":2,"numRows":20}},
			{"relPath":"symbols/stacktraces.symdb","sizeBytes":10}],
		"compaction":{"level":1,"sources":["01HD3X85G9BGAG4S3TKPNMFG4Z"]},
		"version":3,"labels":{},"downsample":{"resolution":0}}`,
	"v3 compacted": `{"ulid":"01HHYG6245NWHZWVP27V8WJRT7","minTime":1702904400.005,"maxTime":1702906199.998,
		"files":[{"relPath":"index.tsdb","sizeBytes":163444},{"relPath":"symbols.symdb"}],
		"compaction":{"level":2,"sources":["01HHYG628G63D5TBSK8BNX5Y07"],
			"parents":[{"ulid":"01HHYG628G63D5TBSK8BNX5Y07","minTime":1702904400.005,"maxTime":1702906199.998}],
			"deletable":true,"hints":["x"]},
		"version":3,"labels":{"__compactor_shard_id__":"1_of_4"},"source":"compactor","unknownKey":[1,2]}`,
	"negative times": `{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z","minTime":-1.5,"maxTime":-0.001,
		"files":[{"relPath":"index.tsdb"}],"version":3}`,
}

// metaCorpus returns the hand-written metas and, when the shared test data
// is there, every meta.json in it.
func metaCorpus(tb testing.TB) map[string][]byte {
	corpus := map[string][]byte{}
	for name, m := range handWrittenMetas {
		corpus[name] = []byte(m)
	}
	testdata, ok := findSharedTestdata()
	if !ok {
		return corpus
	}
	files, err := filepath.Glob(filepath.Join(testdata, "*", "*", "*", "*", "*", MetaFilename))
	if err != nil {
		tb.Fatal(err)
	}
	partial, _ := filepath.Glob(filepath.Join(testdata, partialDir, "*", MetaFilename))
	for _, f := range append(files, partial...) {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		rel, _ := filepath.Rel(testdata, f)
		corpus[rel] = data
	}
	return corpus
}

func TestParseMetaRejects(t *testing.T) {
	const files = `"files":[{"relPath":"index.tsdb"}]`
	const id = `"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z"`
	tests := []struct {
		name string
		doc  string
		want error // nil: any error
	}{
		{"version 0", `{` + id + `,` + files + `,"version":0}`, ErrMetaVersion},
		{"version missing", `{` + id + `,` + files + `}`, ErrMetaVersion},
		{"version 4", `{` + id + `,` + files + `,"version":4}`, ErrMetaVersion},
		{"version -1", `{` + id + `,` + files + `,"version":-1}`, ErrMetaVersion},
		{"no files", `{` + id + `,"files":[],"version":3}`, ErrMetaNoFiles},
		{"files missing", `{` + id + `,"version":3}`, ErrMetaNoFiles},
		{"files null", `{` + id + `,"files":null,"version":3}`, ErrMetaNoFiles},
		{"ulid missing", `{` + files + `,"version":3}`, ErrMetaULID},
		{"ulid zero", `{"ulid":"00000000000000000000000000",` + files + `,"version":3}`, ErrMetaULID},
		{"ulid garbage", `{"ulid":"not-a-ulid",` + files + `,"version":3}`, nil},
		{"ulid too long", `{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4ZZ",` + files + `,"version":3}`, nil},
		{"ulid number", `{"ulid":12,` + files + `,"version":3}`, nil},
		{"path traversal", `{` + id + `,"files":[{"relPath":"../x"}],"version":3}`, nil},
		{"path traversal inside", `{` + id + `,"files":[{"relPath":"symbols/../../x"}],"version":3}`, nil},
		{"path dotdot", `{` + id + `,"files":[{"relPath":".."}],"version":3}`, nil},
		{"path absolute", `{` + id + `,"files":[{"relPath":"/etc/passwd"}],"version":3}`, nil},
		{"path backslash", `{` + id + `,"files":[{"relPath":"..\\x"}],"version":3}`, nil},
		{"path empty", `{` + id + `,"files":[{"relPath":""}],"version":3}`, nil},
		{"path unclean", `{` + id + `,"files":[{"relPath":"./index.tsdb"}],"version":3}`, nil},
		{"path NUL", `{` + id + `,"files":[{"relPath":"a\u0000b"}],"version":3}`, nil},
		{"minTime after maxTime", `{` + id + `,` + files + `,"version":3,"minTime":2,"maxTime":1}`, nil},
		{"time quoted", `{` + id + `,` + files + `,"version":3,"minTime":"1"}`, nil},
		{"time exponent", `{` + id + `,` + files + `,"version":3,"minTime":1e3}`, nil},
		{"time overflow", `{` + id + `,` + files + `,"version":3,"maxTime":9223372036854775808}`, nil},
		{"garbage", `garbage`, nil},
		{"empty", ``, nil},
		{"array", `[]`, nil},
		{"truncated", `{` + id + `,` + files, nil},
		{"trailing garbage", `{` + id + `,` + files + `,"version":3} x`, nil},
		{"second document", `{` + id + `,` + files + `,"version":3}{}`, nil},
		{"wrong type", `{` + id + `,` + files + `,"version":"3"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMeta([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseMeta accepted %s: %+v", tt.doc, m)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParseMetaAccepts(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"minimal", `{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z","files":[{"relPath":"index.tsdb"}],"version":1}`},
		{"trailing newline", "{\"ulid\":\"01HD3X85G9BGAG4S3TKPNMFG4Z\",\"files\":[{\"relPath\":\"index.tsdb\"}],\"version\":2}\n\t "},
		{"null times", `{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z","files":[{"relPath":"a/b"}],"version":3,"minTime":null,"maxTime":null}`},
		{"lower-case ulid", `{"ulid":"01hd3x85g9bgag4s3tknmfg4z0","files":[{"relPath":"index.tsdb"}],"version":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseMeta([]byte(tt.doc)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMetaFileLookup(t *testing.T) {
	m, err := ParseMeta([]byte(handWrittenMetas["v3"]))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lookup func(string) (File, bool)
		name   string
		want   string // relPath, "" when absent
	}{
		{m.File, "index.tsdb", "index.tsdb"},
		{m.File, "stacktraces.symdb", ""},
		{m.File, "symbols/stacktraces.symdb", "symbols/stacktraces.symdb"},
		{m.FileByBaseName, "stacktraces.symdb", "symbols/stacktraces.symdb"},
		{m.FileByBaseName, "symbols.symdb", ""},
	}
	for _, tt := range tests {
		f, ok := tt.lookup(tt.name)
		if ok != (tt.want != "") || f.RelPath != tt.want {
			t.Errorf("lookup(%q) = %q, %v; want %q", tt.name, f.RelPath, ok, tt.want)
		}
	}
}

func TestTimeUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1", want: 1000},
		{in: "0", want: 0},
		{in: "20", want: 20000},
		{in: "1675162365.672", want: 1675162365672},
		{in: "1694460120", want: 1694460120000},
		{in: "1709251500.849", want: 1709251500849},
		{in: "1.5", want: 1500},
		{in: "1.05", want: 1050},
		{in: "1.005", want: 1005},
		{in: "1.2345", want: 1234}, // truncated, not rounded
		{in: "1.9999", want: 1999},
		{in: "0.001", want: 1},
		{in: "1.", want: 1000},
		{in: "-1.5", want: -1500},
		{in: "-0.001", want: -1},
		{in: "9223372036854774.807", want: 9223372036854774807},
		{in: "9223372036854775.807", want: 9223372036854775807},
		{in: "9223372036854775.808", wantErr: true},
		{in: "-9223372036854775.807", want: -9223372036854775807},
		{in: "99999999999999999999", wantErr: true},
		{in: "", wantErr: true},
		{in: "-", wantErr: true},
		{in: ".5", wantErr: true},
		{in: "1e3", wantErr: true},
		{in: "1.5e3", wantErr: true},
		{in: "+1", wantErr: true},
		{in: "--1", wantErr: true},
		{in: "1.-5", wantErr: true},
		{in: "1.2.3", wantErr: true},
		{in: `"1"`, wantErr: true},
		{in: "true", wantErr: true},
		{in: " 1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tm := Time(42)
			err := tm.UnmarshalJSON([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted, got %d", tm)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if int64(tm) != tt.want {
				t.Fatalf("got %d, want %d", tm, tt.want)
			}
		})
	}
	t.Run("null", func(t *testing.T) {
		tm := Time(42)
		if err := tm.UnmarshalJSON([]byte("null")); err != nil || tm != 42 {
			t.Fatalf("null: got %d, %v; want 42 unchanged", tm, err)
		}
	})
}

func TestTimeMarshalJSON(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "0"},
		{1, "0.001"},
		{1000, "1"},
		{1500, "1.5"},
		{1050, "1.05"},
		{1234, "1.234"},
		{1675162365672, "1675162365.672"},
		{1694460120000, "1694460120"},
		{-1, "-0.001"},
		{-1500, "-1.5"},
		{9223372036854775807, "9223372036854775.807"},
		{-9223372036854775807, "-9223372036854775.807"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := Time(tt.ms).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			var back Time
			if err := back.UnmarshalJSON(got); err != nil || int64(back) != tt.ms {
				t.Fatalf("round trip: got %d, %v; want %d", back, err, tt.ms)
			}
		})
	}
}

func TestTimeRoundTripText(t *testing.T) {
	// Canonical encodings, as Pyroscope writes them, survive a round trip.
	for _, s := range []string{"1", "20", "0", "1675162365.672", "1694460120", "1.5", "1.05", "0.001", "-1.5", "1709251500.849"} {
		var tm Time
		if err := tm.UnmarshalJSON([]byte(s)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, _ := tm.MarshalJSON()
		if string(got) != s {
			t.Errorf("%s: re-encoded as %s", s, got)
		}
	}
}

func FuzzParseMeta(f *testing.F) {
	for _, data := range metaCorpus(f) {
		f.Add(data)
	}
	for _, s := range []string{
		``, `{}`, `null`, `{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z","files":[{"relPath":"../x"}],"version":3}`,
		`{"ulid":"01HD3X85G9BGAG4S3TKPNMFG4Z","files":[{"relPath":"a"}],"version":3,"minTime":1.2345,"maxTime":-0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMeta(data)
		if err != nil {
			return
		}
		if m.Version < MetaVersion1 || m.Version > MetaVersion3 {
			t.Fatalf("accepted version %d", m.Version)
		}
		if len(m.Files) == 0 {
			t.Fatal("accepted a meta without files")
		}
		for _, f := range m.Files {
			if !ValidRelPath(f.RelPath) || strings.Contains("/"+f.RelPath+"/", "/../") {
				t.Fatalf("accepted relPath %q", f.RelPath)
			}
		}
		if m.MinTime > m.MaxTime {
			t.Fatalf("accepted minTime %d > maxTime %d", m.MinTime, m.MaxTime)
		}
		checkMetaRoundTrip(t, data)
	})
}
