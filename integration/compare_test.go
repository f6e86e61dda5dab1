package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// comparers apply the README's "Comparing against the goldens" rules to
// methods whose answers are not compared as plain JSON.
var comparers = map[string]func(t *testing.T, got, want any){
	"SelectMergeStacktraces": compareMergeStacktraces,
	"Diff":                   compareDiff,
	"SelectSeries":           compareSeries,
	"SelectMergeProfile":     compareProfile,
}

// canonicalFields are the parts of the canonical view the README compares.
var canonicalFields = []string{"sample_types", "period_type", "period", "totals", "samples"}

// compareProfile compares a merged pprof profile (as protobuf JSON) with a
// golden canonical view: sample types, period, per-type totals and the
// multiset of (stack of function names, values).
func compareProfile(t *testing.T, got, want any) {
	t.Helper()
	view := canonicalOf(t, got)
	for _, f := range canonicalFields {
		if !reflect.DeepEqual(field(view, f), field(want, f)) {
			t.Fatalf("%s differs\n got: %s\nwant: %s", f, shortJSON(field(view, f)), shortJSON(field(want, f)))
		}
	}
}

// canonicalOf computes the canonical view of a profile given as protobuf JSON.
func canonicalOf(t *testing.T, profileJSON any) any {
	t.Helper()
	b, _ := json.Marshal(profileJSON)
	var p googlev1.Profile
	if err := protojson.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a profile: %v", err)
	}
	cb, err := json.Marshal(flamegraph.CanonicalView(&p))
	if err != nil {
		t.Fatal(err)
	}
	var view any
	if err := json.Unmarshal(cb, &view); err != nil {
		t.Fatal(err)
	}
	return view
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func jsonInt(t *testing.T, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("not an integer: %q", x)
		}
		return n
	case float64:
		return int64(x)
	}
	t.Fatalf("not an integer: %#v", v)
	return 0
}

// resolvedLevels turns flame graph levels into rows of values with each
// name index replaced by its name, so that the order of the names table
// does not matter.
func resolvedLevels(t *testing.T, fg any, width int) [][]string {
	t.Helper()
	var names []string
	for _, n := range asSlice(field(fg, "names")) {
		names = append(names, n.(string))
	}
	var out [][]string
	for _, l := range asSlice(field(fg, "levels")) {
		vals := asSlice(field(l, "values"))
		if len(vals)%width != 0 {
			t.Fatalf("level has %d values, not a multiple of %d", len(vals), width)
		}
		row := make([]string, 0, len(vals))
		for i, v := range vals {
			n := jsonInt(t, v)
			if i%width == width-1 {
				if n < 0 || int(n) >= len(names) {
					t.Fatalf("name index %d out of range (%d names)", n, len(names))
				}
				row = append(row, names[n])
				continue
			}
			row = append(row, strconv.FormatInt(n, 10))
		}
		out = append(out, row)
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func compareFlameGraphs(t *testing.T, got, want any, width int, scalars ...string) {
	t.Helper()
	for _, f := range scalars {
		if g, w := jsonInt(t, field(got, f)), jsonInt(t, field(want, f)); g != w {
			t.Errorf("%s: got %d, want %d", f, g, w)
		}
	}
	gl, wl := resolvedLevels(t, got, width), resolvedLevels(t, want, width)
	if len(gl) != len(wl) {
		t.Errorf("got %d levels, want %d", len(gl), len(wl))
	}
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if !reflect.DeepEqual(gl[i], wl[i]) {
			t.Fatalf("level %d differs\n got: %s\nwant: %s", i, clip(strings.Join(gl[i], " ")), clip(strings.Join(wl[i], " ")))
		}
	}
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

func compareMergeStacktraces(t *testing.T, got, want any) {
	t.Helper()
	if w, ok := field(want, "tree").(string); ok || field(got, "tree") != nil {
		g, _ := field(got, "tree").(string)
		if stacks(t, g) != stacks(t, w) {
			t.Fatalf("trees differ\n got: %s\nwant: %s", clip(stacks(t, g)), clip(stacks(t, w)))
		}
		return
	}
	compareFlameGraphs(t, field(got, "flamegraph"), field(want, "flamegraph"), 4, "total", "maxSelf")
}

// stacks decodes a base64 tree and lists its stacks with self values.
func stacks(t *testing.T, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := flamegraph.UnmarshalTree(raw)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	tree.IterateStacks(func(rootFirst []string, self int64) {
		lines = append(lines, fmt.Sprintf("%s %d", strings.Join(rootFirst, ";"), self))
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func compareDiff(t *testing.T, got, want any) {
	t.Helper()
	compareFlameGraphs(t, field(got, "flamegraph"), field(want, "flamegraph"), 7, "total", "maxSelf", "leftTicks", "rightTicks")
}

func compareSeries(t *testing.T, got, want any) {
	t.Helper()
	gs, ws := asSlice(field(got, "series")), asSlice(field(want, "series"))
	if len(gs) != len(ws) {
		t.Fatalf("got %d series, want %d\n got: %s\nwant: %s", len(gs), len(ws), shortJSON(seriesLabels(gs)), shortJSON(seriesLabels(ws)))
	}
	for i := range ws {
		if !reflect.DeepEqual(field(gs[i], "labels"), field(ws[i], "labels")) {
			t.Fatalf("series %d: labels %s, want %s", i, shortJSON(field(gs[i], "labels")), shortJSON(field(ws[i], "labels")))
		}
		gp, wp := asSlice(field(gs[i], "points")), asSlice(field(ws[i], "points"))
		if len(gp) != len(wp) {
			t.Fatalf("series %d: %d points, want %d\n got: %s\nwant: %s", i, len(gp), len(wp), shortJSON(gp), shortJSON(wp))
		}
		for j := range wp {
			gt, wt := jsonInt(t, field(gp[j], "timestamp")), jsonInt(t, field(wp[j], "timestamp"))
			gv, _ := field(gp[j], "value").(float64)
			wv, _ := field(wp[j], "value").(float64)
			if gt != wt || !closeEnough(gv, wv) {
				t.Fatalf("series %d point %d: (%d, %v), want (%d, %v)", i, j, gt, gv, wt, wv)
			}
			if w := field(wp[j], "annotations"); w != nil && !reflect.DeepEqual(field(gp[j], "annotations"), w) {
				t.Fatalf("series %d point %d: annotations %s, want %s", i, j, shortJSON(field(gp[j], "annotations")), shortJSON(w))
			}
		}
	}
}

func seriesLabels(series []any) []any {
	var out []any
	for _, s := range series {
		out = append(out, field(s, "labels"))
	}
	return out
}

func closeEnough(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}
