package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// The README's policies name golden answers that Pyroscope got wrong. For
// each, the test checks the right answer, derived without Cinder's readers
// where it can be.
func init() {
	fixtures, medium := overrides["fixtures"], overrides["medium"]

	// Policy 5: profile_id_selector is honoured; that ID does not exist.
	for _, o := range []map[string]override{fixtures, medium} {
		o["quirk_SelectMergeStacktraces_profile_id_selector_ignored"] = func(*testing.T, map[string]*goldenCase, overrideEnv) expectation {
			return expectation{httpStatus: http.StatusOK, why: "policy 5: profile_id_selector is honoured; no profile has that ID",
				response: map[string]any{"flamegraph": map[string]any{"names": []any{"total"}, "levels": []any{map[string]any{"values": []any{"0", "0", "0", "0"}}}}}}
		}
	}

	// Policy 1: full stacks and stack ID 0 in the meta v1 block.
	fixtures["SelectMergeStacktraces_memory_inuse_objects_count_space_bytes_all"] = v1FlameGraph(
		"memory:inuse_objects:count:space:bytes", map[string]int64{
			// block-format.md §12.1, row 0 (inuse_objects): IDs 0, 1, 2, 4.
			v1StackID0: 195, v1StackID1: 512, v1StackID2: 372, v1StackID4: 1260,
		})
	fixtures["SelectMergeStacktraces_memory_inuse_space_bytes_space_bytes_all"] = v1FlameGraph(
		"memory:inuse_space:bytes:space:bytes", map[string]int64{v1StackID0: 1, v1StackID1: 1, v1StackID4: 1})
	fixtures["SelectMergeProfile_inuse_space_b1"] = v1Profile("memory:inuse_space:bytes:space:bytes", 1675162365000, 1675162366000)

	// Policy 3: a block whose maxTime equals start is read.
	medium["boundary_block0_start_eq_block_max_SelectMergeStacktraces"] = sameProfilesAs(
		"boundary_block0_start_eq_block_max_SelectMergeStacktraces", "boundary_block0_start_eq_block_max_minus_1_SelectMergeStacktraces")
	medium["boundary_block0_last_profile_start_eq_max_SelectMergeProfile_process_cpu_cpu_nanoseconds_cpu_nanoseconds"] = sameAs(
		"boundary_block0_last_profile_window_incl_SelectMergeProfile_process_cpu_cpu_nanoseconds_cpu_nanoseconds", "policy 3: block ranges are inclusive")
	medium["boundary_block0_last_profile_start_eq_max_SelectMergeStacktraces_process_cpu_cpu_nanoseconds_cpu_nanoseconds"] = flameGraphOfProfile(
		"boundary_block0_last_profile_window_incl_SelectMergeProfile_process_cpu_cpu_nanoseconds_cpu_nanoseconds", "policy 3: block ranges are inclusive")
	// Policy 3 for SelectSeries: Pyroscope picks blocks with the range before
	// it reaches back one step, so a block whose maxTime equals start (or is
	// within the step before it) is dropped along with the profiles that the
	// first bucket should hold. Cinder keeps them.
	for name, block := range map[string]string{
		"boundary_block0_start_eq_block_max_SelectSeries":                                                          "01M7ZKZGFHVR6271E3X0RSYZC6",
		"boundary_block0_last_profile_start_eq_max_SelectSeries_process_cpu_cpu_nanoseconds_cpu_nanoseconds":       "01M7ZKZGFHVR6271E3X0RSYZC6",
		"boundary_block0_last_profile_start_eq_max_plus1_SelectSeries_process_cpu_cpu_nanoseconds_cpu_nanoseconds": "01M7ZKZGFHVR6271E3X0RSYZC6",
		"boundary_block1_last_profile_start_eq_max_SelectSeries_process_cpu_cpu_nanoseconds_cpu_nanoseconds":       "01M7ZKZPRPDPR89X36K6KNWZ22",
	} {
		medium[name] = seriesGainsFirstBucket(name, block)
	}

	// Request fields are honoured (policy 5's principle; issue 4 asks for
	// call_site on flame graphs): the stacks under runtime.main only.
	fixtures["SelectMergeStacktraces_stack_trace_selector_ignored_v1"] = subtreeOf(
		"SelectMergeStacktraces_process_cpu_cpu_nanoseconds_cpu_nanoseconds_all", "runtime.main")

	// Policy 2: blocks without TotalValue sum their samples.
	for _, name := range []string{"quirk_SelectSeries_cpu_full_step_1d_v1_v2_blocks_fail", "quirk_SelectSeries_inuse_b2_step1_v2_block_fails"} {
		fixtures[name] = seriesAddUpToFlameGraph(name)
	}

	// Policy 5: exemplar_type adds exemplars.
	for _, o := range []map[string]override{fixtures, medium} {
		o["quirk_SelectSeries_exemplars_ignored"] = seriesWithExemplars()
	}
}

// seriesGainsFirstBucket expects Pyroscope's series plus, in each series'
// first bucket (t_0 = start), the profiles of block that lie in
// [start-step, start], which Pyroscope lost. Their total comes from a plain
// parquet read of the block.
func seriesGainsFirstBucket(name, block string) override {
	return func(t *testing.T, byName map[string]*goldenCase, env overrideEnv) expectation {
		c := byName[name]
		var req struct {
			Start         int64 `json:"start"`
			ProfileTypeID string
			Step          float64
		}
		if err := json.Unmarshal(c.Request, &req); err != nil {
			t.Fatal(err)
		}
		stepMs := int64(req.Step * 1000)
		lost := sumSampleValuesIn(t, []string{filepath.Join(env.dataset, "anonymous", "phlaredb", block)},
			req.ProfileTypeID, (req.Start-stepMs)*1e6, req.Start*1e6+999_999)
		return expectation{httpStatus: http.StatusOK, why: "policy 3: block ranges are inclusive, for the first bucket's reach-back too",
			check: func(t *testing.T, got any) {
				wantPoints, gotPoints := pointsByLabels(t, c.responseAny), pointsByLabels(t, got)
				var gained float64
				for labels, pts := range gotPoints {
					for ts, v := range pts {
						w, ok := wantPoints[labels][ts]
						if ts == req.Start {
							gained += v - w
						} else if !ok || !closeEnough(v, w) {
							t.Errorf("series %s point %d: %v, Pyroscope had %v (present: %v); only the first bucket may differ", labels, ts, v, w, ok)
						}
					}
				}
				for labels, pts := range wantPoints {
					for ts := range pts {
						if _, ok := gotPoints[labels][ts]; !ok {
							t.Errorf("series %s lost Pyroscope's point at %d", labels, ts)
						}
					}
				}
				if !closeEnough(gained, float64(lost)) {
					t.Errorf("the first buckets gained %v over Pyroscope's answer, want %d: the profiles of block %s in [start-step, start]", gained, lost, block)
				}
			}}
	}
}

// pointsByLabels indexes SelectSeries JSON by label set and timestamp.
func pointsByLabels(t *testing.T, resp any) map[string]map[int64]float64 {
	out := map[string]map[int64]float64{}
	for _, s := range asSlice(field(resp, "series")) {
		k := shortJSON(field(s, "labels"))
		out[k] = map[int64]float64{}
		for _, p := range asSlice(field(s, "points")) {
			v, _ := field(p, "value").(float64)
			out[k][jsonInt(t, field(p, "timestamp"))] = v
		}
	}
	return out
}

// seriesAddUpToFlameGraph checks that the points of all series add up to
// the flame graph total of the same selector and range.
func seriesAddUpToFlameGraph(name string) override {
	return func(t *testing.T, byName map[string]*goldenCase, env overrideEnv) expectation {
		c := byName[name]
		return expectation{httpStatus: http.StatusOK, why: "policy 2: blocks without TotalValue sum their sample values",
			check: func(t *testing.T, got any) {
				var req map[string]any
				json.Unmarshal(c.Request, &req)
				body, _ := json.Marshal(map[string]any{"profileTypeID": req["profileTypeID"], "labelSelector": req["labelSelector"], "start": req["start"], "end": req["end"]})
				r, _ := http.NewRequest(http.MethodPost, env.server.URL+"/querier.v1.QuerierService/SelectMergeStacktraces", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				st, _, fgBody := httpDo(t, r)
				if st != http.StatusOK {
					t.Fatalf("SelectMergeStacktraces: HTTP %d %s", st, fgBody)
				}
				fgTotal := jsonInt(t, field(parseJSON(t, fgBody), "flamegraph", "total"))
				var sum float64
				for _, s := range asSlice(field(got, "series")) {
					for _, p := range asSlice(field(s, "points")) {
						v, _ := field(p, "value").(float64)
						sum += v
					}
				}
				if fgTotal == 0 || !closeEnough(sum, float64(fgTotal)) {
					t.Errorf("series points add up to %v, flame graph total is %d", sum, fgTotal)
				}
			}}
	}
}

// seriesWithExemplars expects Pyroscope's series, each point carrying an
// exemplar: the profile ID, timestamp and value of one of its profiles.
func seriesWithExemplars() override {
	return func(t *testing.T, byName map[string]*goldenCase, _ overrideEnv) expectation {
		c := byName["quirk_SelectSeries_exemplars_ignored"]
		return expectation{httpStatus: http.StatusOK, why: "policy 5: exemplar_type is honoured",
			check: func(t *testing.T, got any) {
				compareSeries(t, got, c.responseAny)
				for _, s := range asSlice(field(got, "series")) {
					for _, p := range asSlice(field(s, "points")) {
						ex := asSlice(field(p, "exemplars"))
						if len(ex) != 1 {
							t.Fatalf("point %s has %d exemplars, want 1", shortJSON(p), len(ex))
						}
						id, _ := field(ex[0], "profileId").(string)
						v := jsonInt(t, field(ex[0], "value"))
						if len(id) != 36 || v <= 0 || float64(v) > field(p, "value").(float64) {
							t.Fatalf("bad exemplar %s for point %s", shortJSON(ex[0]), shortJSON(p))
						}
					}
				}
			}}
	}
}

// sameProfilesAs checks that a flame graph query selects the same profiles
// as another golden query: its total equals that golden's, and without a
// node budget both requests give identical graphs. (With a budget, the
// two differ near the cut-off: like Pyroscope, Cinder splits a range at a
// boundary that depends on its start and truncates each part.)
func sameProfilesAs(name, other string) override {
	return func(t *testing.T, byName map[string]*goldenCase, env overrideEnv) expectation {
		want := jsonInt(t, field(byName[other].responseAny, "flamegraph", "total"))
		untruncated := func(t *testing.T, c *goldenCase) any {
			var req map[string]any
			json.Unmarshal(c.Request, &req)
			req["maxNodes"] = 1048576
			body, _ := json.Marshal(req)
			r, _ := http.NewRequest(http.MethodPost, env.server.URL+"/querier.v1.QuerierService/SelectMergeStacktraces", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			st, _, resp := httpDo(t, r)
			if st != http.StatusOK {
				t.Fatalf("HTTP %d %s", st, resp)
			}
			return parseJSON(t, resp)
		}
		return expectation{httpStatus: http.StatusOK, why: "policy 3: block ranges are inclusive (same profiles as " + other + ")",
			check: func(t *testing.T, got any) {
				if g := jsonInt(t, field(got, "flamegraph", "total")); g != want {
					t.Errorf("total %d, want %d as in %s", g, want, other)
				}
				compareMergeStacktraces(t, untruncated(t, byName[name]), untruncated(t, byName[other]))
			}}
	}
}

// subtreeOf expects the stacks of another golden flame graph, of the same
// query without a call-site selector, that start at root.
func subtreeOf(unfiltered, root string) override {
	return func(t *testing.T, byName map[string]*goldenCase, _ overrideEnv) expectation {
		all := flameGraphStacks(t, field(byName[unfiltered].responseAny, "flamegraph"))
		want := map[string]int64{}
		var total int64
		for stack, self := range all {
			if stack == root || strings.HasPrefix(stack, root+";") {
				want[stack] = self
				total += self
			}
		}
		if total == 0 {
			t.Fatalf("%s has no stack under %s", unfiltered, root)
		}
		return expectation{httpStatus: http.StatusOK, why: "stack_trace_selector is honoured: only stacks through " + root,
			check: func(t *testing.T, got any) {
				fg := field(got, "flamegraph")
				if g := jsonInt(t, field(fg, "total")); g != total {
					t.Errorf("total %d, want %d", g, total)
				}
				gotStacks := flameGraphStacks(t, fg)
				for stack, self := range want {
					if self != 0 && gotStacks[stack] != self {
						t.Errorf("stack %s: self %d, want %d", stack, gotStacks[stack], self)
					}
				}
				for stack, self := range gotStacks {
					if self != 0 && want[stack] != self {
						t.Errorf("unexpected stack %s with self %d", stack, self)
					}
				}
			}}
	}
}

// Root-first stacks of the meta v1 block, block-format.md §12.1.
var (
	v1StackID0 = "runtime.main;" + strings.Repeat("runtime.doInit;", 7) + "github.com/tencentyun/cos-go-sdk-v5.init;regexp.MustCompile;regexp.Compile;regexp.compile;regexp/syntax.Compile;" +
		"regexp/syntax.(*compiler).compile;regexp/syntax.(*compiler).compile;regexp/syntax.(*compiler).rune;regexp/syntax.(*compiler).inst"
	v1StackID1 = "runtime.mcall;runtime.park_m;runtime.schedule;runtime.resetspinning;runtime.wakep;runtime.startm;runtime.newm;runtime.allocm"
	v1StackID2 = "runtime.main;" + strings.Repeat("runtime.doInit;", 5) + "internal/profile.init;regexp.MustCompile;regexp.Compile;regexp.compile;regexp.compileOnePass;regexp.onePassCopy"
	v1StackID4 = "runtime.systemstack;runtime.newproc.func1;runtime.newproc1;runtime.malg"
)

// v1FlameGraph checks a full-range flame graph over the fixture blocks that
// include the meta v1 block: its total is the sum of the selected rows'
// sample values, read with a plain parquet reader, and each listed full
// stack is present with at least the given self value.
func v1FlameGraph(profileType string, minSelf map[string]int64) override {
	return func(t *testing.T, _ map[string]*goldenCase, env overrideEnv) expectation {
		total := sumSampleValues(t, env.dataset, profileType, 1, 1700000000000)
		return expectation{httpStatus: http.StatusOK, why: "policy 1: meta v1 stacks are resolved whole and stack ID 0 is kept",
			check: func(t *testing.T, got any) {
				fg := field(got, "flamegraph")
				if g := jsonInt(t, field(fg, "total")); g != total {
					t.Errorf("total %d, want %d, the sum of the selected rows' sample values", g, total)
				}
				self := flameGraphStacks(t, fg)
				for stack, min := range minSelf {
					if self[stack] < min {
						t.Errorf("stack %s: self %d, want at least %d", stack, self[stack], min)
					}
				}
			}}
	}
}

// v1Profile checks a merged profile of the meta v1 block: totals equal the
// sum of the sample values, and stacks are whole.
func v1Profile(profileType string, start, end int64) override {
	return func(t *testing.T, _ map[string]*goldenCase, env overrideEnv) expectation {
		total := sumSampleValues(t, env.dataset, profileType, start, end)
		return expectation{httpStatus: http.StatusOK, why: "policy 1: meta v1 stacks are resolved whole and stack ID 0 is kept",
			check: func(t *testing.T, got any) {
				view := canonicalOf(t, got)
				totals := asSlice(field(view, "totals"))
				if len(totals) != 1 || int64(totals[0].(float64)) != total {
					t.Errorf("totals %v, want [%d]", totals, total)
				}
				found := map[string]bool{}
				for _, s := range asSlice(field(view, "samples")) {
					var leafFirst []string
					for _, f := range asSlice(field(s, "stack")) {
						leafFirst = append(leafFirst, f.(string))
					}
					rootFirst := make([]string, len(leafFirst))
					for i, f := range leafFirst {
						rootFirst[len(leafFirst)-1-i] = f
					}
					found[strings.Join(rootFirst, ";")] = true
				}
				for _, stack := range []string{v1StackID0, v1StackID1, v1StackID4} {
					if !found[stack] {
						t.Errorf("no sample has the whole stack %s", stack)
					}
				}
			}}
	}
}

// flameGraphOfProfile expects a flame graph with the total of another
// case's merged profile.
func flameGraphOfProfile(profileCase, why string) override {
	return func(t *testing.T, byName map[string]*goldenCase, _ overrideEnv) expectation {
		o := byName[profileCase]
		if o == nil || o.Error != nil {
			t.Fatalf("override needs the successful golden case %s", profileCase)
		}
		totals := asSlice(field(fromGolden(o).response, "totals"))
		if len(totals) != 1 || totals[0].(float64) <= 0 {
			t.Fatalf("%s has no positive total", profileCase)
		}
		want := int64(totals[0].(float64))
		return expectation{httpStatus: http.StatusOK, why: why + " (total of " + profileCase + ")",
			check: func(t *testing.T, got any) {
				if g := jsonInt(t, field(got, "flamegraph", "total")); g != want {
					t.Errorf("total %d, want %d", g, want)
				}
			}}
	}
}

// flameGraphStacks rebuilds the tree of a flame graph from its levels, as
// Grafana does, and returns the self value of every root-first stack.
func flameGraphStacks(t *testing.T, fg any) map[string]int64 {
	t.Helper()
	var names []string
	for _, n := range asSlice(field(fg, "names")) {
		names = append(names, n.(string))
	}
	type node struct {
		x, total, self int64
		path           string
	}
	var prev []node
	out := map[string]int64{}
	for depth, l := range asSlice(field(fg, "levels")) {
		vals := asSlice(field(l, "values"))
		var cur []node
		var x int64
		p := 0
		for i := 0; i+3 < len(vals); i += 4 {
			x += jsonInt(t, vals[i])
			n := node{x: x, total: jsonInt(t, vals[i+1]), self: jsonInt(t, vals[i+2])}
			name := names[jsonInt(t, vals[i+3])]
			if depth > 0 {
				for p < len(prev) && prev[p].x+prev[p].total <= n.x && !(prev[p].total == 0 && prev[p].x == n.x) {
					p++
				}
				if p == len(prev) {
					t.Fatalf("level %d: node at %d has no parent", depth, n.x)
				}
				n.path = name
				if prev[p].path != "" {
					n.path = prev[p].path + ";" + name
				}
				out[n.path] += n.self
			}
			cur = append(cur, n)
			x += n.total
		}
		prev = cur
	}
	return out
}

// oracleRow is the part of a profiles.parquet row the oracle needs, read
// with parquet-go's generic reader rather than Cinder's scanner.
type oracleRow struct {
	SeriesIndex uint32         `parquet:"SeriesIndex"`
	Samples     []oracleSample `parquet:"Samples,list"`
	TimeNanos   int64          `parquet:"TimeNanos"`
}

type oracleSample struct {
	StacktraceID uint64 `parquet:"StacktraceID"`
	Value        int64  `parquet:"Value"`
}

// sumSampleValues adds up the positive sample values of every profile of a
// type in [startMs, endMs] over all blocks of a bucket.
func sumSampleValues(t *testing.T, bucketDir, profileType string, startMs, endMs int64) int64 {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(bucketDir, "anonymous", "phlaredb", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no blocks in %s", bucketDir)
	}
	return sumSampleValuesIn(t, dirs, profileType, startMs*1e6, endMs*1e6)
}

// sumSampleValuesIn adds up the positive sample values of every profile of
// a type with fromNs <= TimeNanos <= toNs in the given block directories.
func sumSampleValuesIn(t *testing.T, dirs []string, profileType string, fromNs, toNs int64) int64 {
	t.Helper()
	var total int64
	for _, dir := range dirs {
		ixBytes, err := os.ReadFile(filepath.Join(dir, "index.tsdb"))
		if err != nil {
			t.Fatal(err)
		}
		ix, err := blockreader.NewIndexReader(ixBytes)
		if err != nil {
			t.Fatal(err)
		}
		refs, err := ix.Postings("__profile_type__", profileType)
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint32]bool{}
		var s blockreader.Series
		for _, ref := range refs {
			if err := ix.Series(ref, &s); err != nil {
				t.Fatal(err)
			}
			want[s.SeriesIndex] = true
		}
		if len(want) == 0 {
			continue
		}
		f, err := os.Open(filepath.Join(dir, "profiles.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[oracleRow](f, mustSize(t, f))
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, r := range rows {
			if !want[r.SeriesIndex] || r.TimeNanos < fromNs || r.TimeNanos > toNs {
				continue
			}
			for _, smp := range r.Samples {
				if smp.Value > 0 {
					total += smp.Value
				}
			}
		}
	}
	if total == 0 {
		t.Fatalf("no sample of %s in %v: the oracle found nothing to compare", profileType, dirs)
	}
	return total
}

func mustSize(t *testing.T, f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
