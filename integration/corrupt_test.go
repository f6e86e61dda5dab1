package integration

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyTree copies the directory src to dst, making the copies writable.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCorruptBlocksAreSkipped serves the fixture blocks next to broken copies
// of one of them. Every broken block overlaps the queries' range, so an
// answer equal to Pyroscope's proves each one was skipped, not half-read.
func TestCorruptBlocksAreSkipped(t *testing.T) {
	root := sharedTestdata(t)
	bucketDir := t.TempDir()
	copyTree(t, filepath.Join(root, "blocks", "fixtures"), bucketDir)
	blocksDir := filepath.Join(bucketDir, "anonymous", "phlaredb")
	const source = "01HD3X85G9BGAG4S3TKPNMFG4Z"

	breakages := map[string]func(dir string){
		"01J00000000000000000000001": func(dir string) { // truncated index
			truncateFile(t, filepath.Join(dir, "index.tsdb"), 0.5)
		},
		"01J00000000000000000000002": func(dir string) { // garbage meta.json
			writeFile(t, filepath.Join(dir, "meta.json"), []byte("{\"ulid\": \x00garbage"))
		},
		"01J00000000000000000000003": func(dir string) { // bad CRC in the series entries
			b := readFile(t, filepath.Join(dir, "index.tsdb"))
			b[200] ^= 0xff
			writeFile(t, filepath.Join(dir, "index.tsdb"), b)
		},
		"01J00000000000000000000004": func(dir string) { // index missing
			os.Remove(filepath.Join(dir, "index.tsdb"))
		},
		"01J00000000000000000000005": func(dir string) { // unsupported meta version
			b := readFile(t, filepath.Join(dir, "meta.json"))
			writeFile(t, filepath.Join(dir, "meta.json"), bytes.Replace(b, []byte(`"version": 3`), []byte(`"version": 9`), 1))
		},
	}
	for id, breakIt := range breakages {
		dir := filepath.Join(blocksDir, id)
		copyTree(t, filepath.Join(blocksDir, source), dir)
		meta := readFile(t, filepath.Join(dir, "meta.json"))
		writeFile(t, filepath.Join(dir, "meta.json"), bytes.Replace(meta, []byte(source), []byte(id), 1))
		breakIt(dir)
	}

	s := startServer(t, bucketDir)
	protos := protocols(t, s)
	cases := loadGoldens(t, filepath.Join(root, "golden", "fixtures"))
	checked := 0
	for _, c := range cases {
		switch c.Name {
		case "LabelNames_full", "LabelValues_service_name_full", "Series_full_all_labels", "ProfileTypes_full", "LabelValues_ptype_b4", "Series_b4":
		default:
			continue
		}
		checked++
		t.Run(c.Name, func(t *testing.T) {
			for _, p := range protos {
				t.Run(p.name, func(t *testing.T) { checkAnswer(t, p.name, c.Method, fromGolden(c), p.call(t, s, c)) })
			}
		})
	}
	if checked != 6 {
		t.Fatalf("checked %d golden cases, want 6", checked)
	}

	// Each broken block is logged with its ULID and counted.
	logs := s.logs.String()
	for id := range breakages {
		if !strings.Contains(logs, id) {
			t.Errorf("no log line names the broken block %s\n%s", id, logs)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
	st, _, body := httpDo(t, req)
	if st != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", st)
	}
	if want := `cinder_bucket_corrupt_blocks{tenant="anonymous"} 5`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, grepLines(string(body), "cinder_bucket"))
	}
	if want := `cinder_bucket_blocks_loaded{tenant="anonymous"} 4`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, grepLines(string(body), "cinder_bucket"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncateFile(t *testing.T, p string, frac float64) {
	t.Helper()
	b := readFile(t, p)
	writeFile(t, p, b[:int(float64(len(b))*frac)])
}

// TestCorruptBlockDataFailsQueries breaks the symbols or the profiles table
// of a block whose index is intact: the sync cannot see that, so the query
// that reads them must fail with internal, naming the block and the file,
// and never answer from what it could read.
func TestCorruptBlockDataFailsQueries(t *testing.T) {
	root := sharedTestdata(t)
	const block = "01HA2V3CPSZ9E0HMQNNHH89WSS"
	for _, tc := range []struct {
		name, file string
		breakIt    func(p string)
	}{
		{"stack trace chunk CRC", "symbols/stacktraces.symdb", func(p string) {
			b := readFile(t, p)
			b[len(b)/2] ^= 0xff
			writeFile(t, p, b)
		}},
		{"truncated symdb index", "symbols/index.symdb", func(p string) { truncateFile(t, p, 0.6) }},
		{"garbage profiles table", "profiles.parquet", func(p string) {
			b := readFile(t, p)
			for i := len(b) - 200; i < len(b)-8; i++ {
				b[i] = 0x5a
			}
			writeFile(t, p, b)
		}},
		{"locations table", "symbols/locations.parquet", func(p string) { truncateFile(t, p, 0.5) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucketDir := t.TempDir()
			copyTree(t, filepath.Join(root, "blocks", "fixtures"), bucketDir)
			tc.breakIt(filepath.Join(bucketDir, "anonymous", "phlaredb", block, filepath.FromSlash(tc.file)))
			s := startServer(t, bucketDir)
			body := `{"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}", "start": 1694460120000, "end": 1694460210000}`
			r, _ := http.NewRequest(http.MethodPost, s.URL+"/querier.v1.QuerierService/SelectMergeStacktraces", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			st, _, resp := httpDo(t, r)
			msg := string(resp)
			if st != http.StatusInternalServerError || !strings.Contains(msg, `"internal"`) {
				t.Fatalf("got HTTP %d %s, want 500 internal", st, msg)
			}
			if !strings.Contains(msg, block) || !strings.Contains(msg, tc.file) {
				t.Errorf("error %s does not name block %s and file %s", msg, block, tc.file)
			}
			// The server survives and still answers other blocks.
			body = `{"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}", "start": 1000, "end": 20000}`
			r, _ = http.NewRequest(http.MethodPost, s.URL+"/querier.v1.QuerierService/SelectMergeStacktraces", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if st, _, resp := httpDo(t, r); st != http.StatusOK || jsonInt(t, field(parseJSON(t, resp), "flamegraph", "total")) != 20 {
				t.Errorf("another block's query: HTTP %d %s, want a total of 20", st, resp)
			}
		})
	}
}

// TestTinyPartitionCache serves the merge goldens with a partition cache
// too small to keep anything: every query reloads its symbols, and the
// answers must not change.
func TestTinyPartitionCache(t *testing.T) {
	root := sharedTestdata(t)
	s := startServer(t, filepath.Join(root, "blocks", "fixtures"), "-cache.partitions.max-size-bytes=1")
	checked := 0
	for _, c := range loadGoldens(t, filepath.Join(root, "golden", "fixtures")) {
		if c.Method != "SelectMergeStacktraces" || c.Error != nil || overrides["fixtures"][c.Name] != nil {
			continue
		}
		checked++
		t.Run(c.Name, func(t *testing.T) {
			checkAnswer(t, "connect-json", c.Method, fromGolden(c), callConnectJSON(t, s, c))
		})
	}
	if checked < 20 {
		t.Fatalf("only %d golden cases checked", checked)
	}
}
