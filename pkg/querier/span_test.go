package querier

import (
	"slices"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

func TestSpanFilter(t *testing.T) {
	spans, err := parseSpanIDs([]string{"0100000000000000", "ffffffffffffffff"})
	if err != nil {
		t.Fatal(err)
	}
	row := &blockreader.ProfileRow{
		StacktraceIDs: []uint64{1, 2, 3, 4},
		Values:        []int64{10, 20, 30, 40},
		SpanIDs:       []uint64{1, 0, ^uint64(0), 2},
	}
	var f spanFilter
	if !f.keep(row, spans) || !slices.Equal(row.StacktraceIDs, []uint64{1, 3}) || !slices.Equal(row.Values, []int64{10, 30}) {
		t.Errorf("kept %v %v, want stacks 1 and 3", row.StacktraceIDs, row.Values)
	}
	noSpans := &blockreader.ProfileRow{StacktraceIDs: []uint64{1}, Values: []int64{1}}
	if f.keep(noSpans, spans) {
		t.Error("a row without span IDs kept samples")
	}
	for _, bad := range []string{"", "123", "zz00000000000000", "01000000000000000"} {
		if _, err := parseSpanIDs([]string{bad}); err == nil {
			t.Errorf("span ID %q accepted", bad)
		}
	}
}

func TestSelectMergeSpanProfile(t *testing.T) {
	s := newTestServer(t, Config{}, staticBlocks{DefaultTenant: fixtureBlocks(t, DefaultTenant)})
	const req = `"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}", "start": 1, "end": 1700000000000`
	// The fixture blocks were written without span IDs: nothing matches.
	r := s.post("SelectMergeSpanProfile", `{`+req+`, "spanSelector": ["0102030405060708"]}`)
	levels, _ := r.body["flamegraph"].(map[string]any)["levels"].([]any)
	if r.status != 200 || len(levels) != 1 {
		t.Errorf("got %d %s, want the one-node empty graph", r.status, r.raw)
	}
	if r := s.post("SelectMergeSpanProfile", `{`+req+`, "spanSelector": ["not-a-span"]}`); r.status != 400 || r.body["code"] != "invalid_argument" {
		t.Errorf("malformed span ID: got %d %s", r.status, r.raw)
	}
	if r := s.post("SelectMergeSpanProfile", `{`+req+`, "spanSelector": ["0102030405060708"], "maxNodes": -1}`); r.status != 400 {
		t.Errorf("negative max_nodes: got %d %s", r.status, r.raw)
	}
}
