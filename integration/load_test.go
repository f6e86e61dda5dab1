package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoad sends a bounded mix of the queries clients make, from several
// workers at once over loopback, and reports latency percentiles and the
// server's peak resident memory. It asserts only that every answer is a
// success: speed is measured by benchmarks, not by tests.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	root := sharedTestdata(t)
	s := startServer(t, filepath.Join(root, "blocks", "medium"))
	const start, end = 1709251200000, 1709262000000
	cpu := `"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "start": ` + strconv.Itoa(start) + `, "end": ` + strconv.Itoa(end)
	queries := []struct{ method, body string }{
		{"LabelNames", fmt.Sprintf(`{"start": %d, "end": %d}`, start, end)},
		{"LabelValues", fmt.Sprintf(`{"name": "pod", "matchers": ["{service_name=\"checkout\"}"], "start": %d, "end": %d}`, start, end)},
		{"Series", fmt.Sprintf(`{"labelNames": ["service_name", "__profile_type__"], "start": %d, "end": %d}`, start, end)},
		{"SelectMergeStacktraces", `{` + cpu + `, "labelSelector": "{}"}`},
		{"SelectMergeStacktraces", `{` + cpu + `, "labelSelector": "{service_name=\"checkout\"}", "maxNodes": 512}`},
		{"SelectSeries", `{` + cpu + `, "labelSelector": "{}", "step": 15, "groupBy": ["pod"]}`},
		{"SelectMergeProfile", `{` + cpu + `, "labelSelector": "{service_name=\"ledger\"}"}`},
	}
	const workers, perWorker = 4, 35
	deadline := time.Now().Add(2 * time.Minute)
	latencies := make(map[string][]time.Duration)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if time.Now().After(deadline) {
					return
				}
				q := queries[(w+i)%len(queries)]
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/querier.v1.QuerierService/"+q.method, bytes.NewReader([]byte(q.body)))
				req.Header.Set("Content-Type", "application/json")
				began := time.Now()
				resp, err := http.DefaultClient.Do(req)
				took := time.Since(began)
				if err != nil {
					t.Errorf("%s: %v", q.method, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: HTTP %d", q.method, resp.StatusCode)
				}
				mu.Lock()
				latencies[q.method] = append(latencies[q.method], took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	for method, ls := range latencies {
		slices.Sort(ls)
		t.Logf("%-24s n=%3d p50=%8v p99=%8v", method, len(ls), percentile(ls, 0.5), percentile(ls, 0.99))
		all = append(all, ls...)
	}
	slices.Sort(all)
	t.Logf("%-24s n=%3d p50=%8v p99=%8v", "all", len(all), percentile(all, 0.5), percentile(all, 0.99))
	if hwm, ok := peakRSS(s.Pid); ok {
		t.Logf("server peak RSS: %s", hwm)
	}
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(100 * time.Microsecond)
}

// peakRSS reads a process's peak resident set size from /proc.
func peakRSS(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
