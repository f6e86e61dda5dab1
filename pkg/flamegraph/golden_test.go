package flamegraph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/internal/repopath"
	"github.com/cinder-profiling/cinder/pkg/symdb"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// sharedTestdata returns ../shared/testdata beside the repository root, or
// skips the test when it is not there.
func sharedTestdata(tb testing.TB) string {
	tb.Helper()
	td, err := repopath.SharedTestdata()
	if err != nil {
		tb.Skipf("repository root not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(td, "golden")); err != nil {
		tb.Skipf("shared test data is missing: %v", err)
	}
	return td
}

// goldenCase is the part of a golden file these tests read.
type goldenCase struct {
	path       string
	Name       string          `json:"name"`
	Dataset    string          `json:"dataset"`
	Method     string          `json:"method"`
	HTTPStatus int             `json:"http_status"`
	Request    json.RawMessage `json:"request"`
	Response   json.RawMessage `json:"response"`
	Canonical  json.RawMessage `json:"response_canonical"`
	ProtoFile  string          `json:"response_proto_file"`
}

func loadGoldens(t *testing.T, method string) []goldenCase {
	t.Helper()
	td := sharedTestdata(t)
	var out []goldenCase
	for _, ds := range []string{"fixtures", "medium"} {
		files, err := filepath.Glob(filepath.Join(td, "golden", ds, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if c.Method != method || c.HTTPStatus != 200 {
				continue
			}
			c.path = f
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s goldens found", method)
	}
	return out
}

// answersDifferently lists the goldens the README says a correct server
// must not reproduce (meta v1 stacks, and a profile_id_selector that
// Pyroscope ignored).
func answersDifferently(c goldenCase) bool {
	switch c.Dataset + "/" + c.Name {
	case "fixtures/SelectMergeProfile_inuse_space_b1",
		"fixtures/SelectMergeStacktraces_memory_inuse_objects_count_space_bytes_all",
		"fixtures/SelectMergeStacktraces_memory_inuse_space_bytes_space_bytes_all":
		return true
	}
	return strings.HasPrefix(c.Name, "quirk_") && strings.Contains(c.Name, "profile_id_selector")
}

type jsonFlameGraph struct {
	Names  []string `json:"names"`
	Levels []struct {
		Values []string `json:"values"`
	} `json:"levels"`
	Total      string `json:"total"`
	MaxSelf    string `json:"maxSelf"`
	LeftTicks  string `json:"leftTicks"`
	RightTicks string `json:"rightTicks"`
}

func (g *jsonFlameGraph) levels(t testing.TB) [][]int64 {
	out := make([][]int64, len(g.Levels))
	for i, l := range g.Levels {
		out[i] = make([]int64, len(l.Values))
		for j, v := range l.Values {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			out[i][j] = n
		}
	}
	return out
}

func parseInt(t testing.TB, s string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// namedLevels replaces every name index of levels (width w) by its name.
func namedLevels(names []string, levels [][]int64, w int) [][]string {
	out := make([][]string, len(levels))
	for i, l := range levels {
		for j := 0; j+w <= len(l); j += w {
			node := make([]string, 0, w)
			for k := 0; k < w-1; k++ {
				node = append(node, strconv.FormatInt(l[j+k], 10))
			}
			node = append(node, names[l[j+w-1]])
			out[i] = append(out[i], strings.Join(node, ","))
		}
	}
	return out
}

// firstLevelDiff describes the first difference of two named layouts.
func firstLevelDiff(got, want [][]string) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d levels, want %d", len(got), len(want))
	}
	for i := range got {
		for j := 0; j < max(len(got[i]), len(want[i])); j++ {
			var g, w string
			if j < len(got[i]) {
				g = got[i][j]
			}
			if j < len(want[i]) {
				w = want[i][j]
			}
			if g != w {
				return fmt.Sprintf("level %d node %d: got %q, want %q", i, j, g, w)
			}
		}
	}
	return ""
}

func hasOther(names []string, levels [][]int64, w int) bool {
	for _, l := range levels {
		for j := w - 1; j < len(l); j += w {
			if names[l[j]] == "other" {
				return true
			}
		}
	}
	return false
}

func requestBudget(t testing.TB, raw json.RawMessage) int64 {
	var r struct {
		MaxNodes json.Number `json:"maxNodes"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	var requested int64
	if r.MaxNodes != "" {
		requested = parseInt(t, r.MaxNodes.String())
	}
	budget, err := ResolveMaxNodes(requested)
	if err != nil {
		t.Fatal(err)
	}
	return budget
}

// TestGoldenFlameGraphLayout rebuilds the call tree of every golden flame
// graph the way Grafana reads it, re-inserts it into a fresh Tree, lays it
// out again with the case's budget and compares node by node (names
// substituted), plus total and maxSelf; it also reports whether the names
// table came out in the same order.
//
// A golden with "other" nodes was truncated several times in Pyroscope
// (per store, per querier, then by the frontend). Re-truncating its already
// truncated tree with the same budget can differ near the cut-off, because
// the "other" nodes are now nodes of their own and compete for the budget.
// Those cases are compared again without truncation, which must reproduce
// the golden exactly: "other" nodes are folded to the right either way.
func TestGoldenFlameGraphLayout(t *testing.T) {
	var exact, exactNames, viaNoTruncation, total int
	for _, c := range loadGoldens(t, "SelectMergeStacktraces") {
		if answersDifferently(c) {
			continue
		}
		var resp struct {
			Flamegraph *jsonFlameGraph `json:"flamegraph"`
			Tree       string          `json:"tree"`
		}
		if err := json.Unmarshal(c.Response, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Flamegraph == nil {
			continue // tree format: TestGoldenTreeFormat
		}
		total++
		t.Run(c.Dataset+"/"+c.Name, func(t *testing.T) {
			g := resp.Flamegraph
			levels := g.levels(t)
			tr := treeFromLevels(rebuildLevels(t, g.Names, levels, 4, 0, false))
			if tr.Total() != parseInt(t, g.Total) {
				t.Fatalf("rebuilt tree total %d, golden %s", tr.Total(), g.Total)
			}
			want := namedLevels(g.Names, levels, 4)
			budget := requestBudget(t, c.Request)

			fg := tr.FlameGraph(budget)
			diff := firstLevelDiff(namedLevels(fg.Names, levelValues(fg.Levels), 4), want)
			if diff != "" && hasOther(g.Names, levels, 4) {
				t.Logf("budget %d: %s; comparing without truncation", budget, diff)
				fg = tr.FlameGraph(0)
				diff = firstLevelDiff(namedLevels(fg.Names, levelValues(fg.Levels), 4), want)
				if diff == "" {
					viaNoTruncation++
				}
			} else if diff == "" {
				exact++
			}
			if diff != "" {
				t.Fatalf("layout: %s", diff)
			}
			if fg.Total != parseInt(t, g.Total) || fg.MaxSelf != parseInt(t, g.MaxSelf) {
				t.Fatalf("total, maxSelf = %d, %d, golden %s, %s", fg.Total, fg.MaxSelf, g.Total, g.MaxSelf)
			}
			if slices.Equal(fg.Names, g.Names) {
				exactNames++
			} else {
				t.Errorf("names order differs")
			}
		})
	}
	t.Logf("flame graph goldens: %d compared, %d equal with the case's budget, %d equal without re-truncation, %d with the same names order",
		total, exact, viaNoTruncation, exactNames)
}

// syntheticOther stands for a diff's synthetic "other" node while a golden
// diff is rebuilt into trees: it sorts after every real name, so NewDiff
// keeps it rightmost, and it is read back as "other".
const syntheticOther = "\xff\xffsynthetic other"

// diffNodeAt is a node of a golden diff with absolute x on both sides.
type diffNodeAt struct {
	lx, lt, ls, rx, rt, rs int64
	name                   string
	parent                 int
}

// rebuildDiff decodes a diff's levels and attaches each node to its parent
// by the side on which it has a width (left if both). A parent's last child
// named "other" that breaks the name order, or follows another "other", is
// the diff's synthetic node and is renamed to syntheticOther: a tree cannot
// hold it beside an "other" child that came from the input trees.
func rebuildDiff(t testing.TB, names []string, levels [][]int64) [][]diffNodeAt {
	t.Helper()
	out := make([][]diffNodeAt, len(levels))
	for li, vals := range levels {
		var lEnd, rEnd int64
		for j := 0; j+7 <= len(vals); j += 7 {
			n := diffNodeAt{name: names[vals[j+6]], parent: -1}
			n.lx, n.lt, n.ls = lEnd+vals[j], vals[j+1], vals[j+2]
			n.rx, n.rt, n.rs = rEnd+vals[j+3], vals[j+4], vals[j+5]
			lEnd, rEnd = n.lx+n.lt, n.rx+n.rt
			out[li] = append(out[li], n)
		}
	}
	for li := 1; li < len(out); li++ {
		prev := out[li-1]
		for ni := range out[li] {
			n := &out[li][ni]
			for p := range prev {
				if (n.lt > 0 && prev[p].lt > 0 && prev[p].lx <= n.lx && n.lx < prev[p].lx+prev[p].lt) ||
					(n.lt == 0 && n.rt > 0 && prev[p].rt > 0 && prev[p].rx <= n.rx && n.rx < prev[p].rx+prev[p].rt) {
					n.parent = p
					break
				}
			}
			if n.parent < 0 {
				t.Fatalf("level %d node %d (%s) has no parent", li, ni, n.name)
			}
		}
		// Children of a parent are contiguous; find synthetic others.
		for start := 0; start < len(out[li]); {
			end := start
			for end < len(out[li]) && out[li][end].parent == out[li][start].parent {
				end++
			}
			last := &out[li][end-1]
			if last.name == "other" && end-1 > start {
				for _, sib := range out[li][start : end-1] {
					if sib.name >= "other" {
						last.name = syntheticOther
						break
					}
				}
			}
			start = end
		}
	}
	return out
}

// diffSideTree re-inserts one side (0 left, 1 right) of a rebuilt diff.
func diffSideTree(nodes [][]diffNodeAt, side int) *Tree {
	tr := NewTree()
	var stack []string
	for li := 1; li < len(nodes); li++ {
		for ni, n := range nodes[li] {
			self := n.ls
			if side == 1 {
				self = n.rs
			}
			if self <= 0 {
				continue
			}
			stack = stack[:0]
			for l, i := li, ni; l > 0; l-- {
				stack = append(stack, nodes[l][i].name)
				i = nodes[l][i].parent
			}
			slices.Reverse(stack)
			tr.InsertStack(self, stack...)
		}
	}
	return tr
}

// TestGoldenDiffLayout does for Diff what TestGoldenFlameGraphLayout does
// for flame graphs, rebuilding the left and right trees from their triples.
// Pyroscope's diff keeps "other" children of its input trees in name order
// and adds its own "other" rightmost; rebuildDiff keeps the two apart.
func TestGoldenDiffLayout(t *testing.T) {
	var exact, exactNames, viaNoTruncation, total int
	for _, c := range loadGoldens(t, "Diff") {
		var resp struct {
			Flamegraph *jsonFlameGraph `json:"flamegraph"`
		}
		if err := json.Unmarshal(c.Response, &resp); err != nil {
			t.Fatal(err)
		}
		var req struct {
			Left  json.RawMessage `json:"left"`
			Right json.RawMessage `json:"right"`
		}
		if err := json.Unmarshal(c.Request, &req); err != nil {
			t.Fatal(err)
		}
		total++
		t.Run(c.Dataset+"/"+c.Name, func(t *testing.T) {
			g := resp.Flamegraph
			levels := g.levels(t)
			nodes := rebuildDiff(t, g.Names, levels)
			left, right := diffSideTree(nodes, 0), diffSideTree(nodes, 1)
			if left.Total() != parseInt(t, g.LeftTicks) || right.Total() != parseInt(t, g.RightTicks) {
				t.Fatalf("rebuilt totals %d/%d, golden %s/%s", left.Total(), right.Total(), g.LeftTicks, g.RightTicks)
			}
			want := namedLevels(g.Names, levels, 7)
			budget := max(requestBudget(t, req.Left), requestBudget(t, req.Right))
			layout := func(d *querierv1.FlameGraphDiff) [][]string {
				names := slices.Clone(d.Names)
				for i, n := range names {
					if n == syntheticOther {
						names[i] = "other"
					}
				}
				return namedLevels(names, levelValues(d.Levels), 7)
			}

			d := NewDiff(left, right, budget)
			diff := firstLevelDiff(layout(d), want)
			if diff != "" && hasOther(g.Names, levels, 7) {
				t.Logf("budget %d: %s; comparing without truncation", budget, diff)
				d = NewDiff(left, right, 0)
				diff = firstLevelDiff(layout(d), want)
				if diff == "" {
					viaNoTruncation++
				}
			} else if diff == "" {
				exact++
			}
			if diff != "" {
				t.Fatalf("layout: %s", diff)
			}
			if d.Total != parseInt(t, g.Total) || d.MaxSelf != parseInt(t, g.MaxSelf) ||
				d.LeftTicks != parseInt(t, g.LeftTicks) || d.RightTicks != parseInt(t, g.RightTicks) {
				t.Fatalf("total %d maxSelf %d ticks %d/%d, golden %s %s %s/%s",
					d.Total, d.MaxSelf, d.LeftTicks, d.RightTicks, g.Total, g.MaxSelf, g.LeftTicks, g.RightTicks)
			}
			// A synthetic and an input "other" share one name in Pyroscope:
			// the first visited of the two takes the index.
			var names []string
			for _, n := range d.Names {
				if n == syntheticOther {
					n = "other"
				}
				if n != "other" || !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
			if slices.Equal(names, g.Names) {
				exactNames++
			} else {
				t.Errorf("names order differs")
			}
		})
	}
	t.Logf("diff goldens: %d compared, %d equal with the case's budget, %d equal without re-truncation, %d with the same names order",
		total, exact, viaNoTruncation, exactNames)
}

// TestGoldenTreeFormat decodes the PROFILE_FORMAT_TREE goldens and compares
// them as trees: with the flame graph golden of the same query where one
// exists, by total otherwise, and checks that MarshalTree reproduces the
// bytes.
func TestGoldenTreeFormat(t *testing.T) {
	td := sharedTestdata(t)
	tests := []struct {
		golden    string // tree format case
		flameSame string // flame graph case with the same query, or ""
		totalOf   string // flame graph case with the same selection and range
	}{
		{"fixtures/SelectMergeStacktraces_cpu_tree_format", "fixtures/SelectMergeStacktraces_cpu_svc_simple", ""},
		{"medium/SelectMergeStacktraces_cpu_proto_tree", "", "medium/SelectMergeStacktraces_cpu_svc_checkout"},
	}
	readCase := func(t *testing.T, name string) goldenCase {
		b, err := os.ReadFile(filepath.Join(td, "golden", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			c := readCase(t, tc.golden)
			var resp struct {
				Tree string `json:"tree"`
			}
			if err := json.Unmarshal(c.Response, &resp); err != nil {
				t.Fatal(err)
			}
			raw, err := base64.StdEncoding.DecodeString(resp.Tree)
			if err != nil {
				t.Fatal(err)
			}
			if c.ProtoFile != "" {
				pb, err := os.ReadFile(filepath.Join(td, "golden", c.Dataset, c.ProtoFile))
				if err != nil {
					t.Fatal(err)
				}
				var m querierv1.SelectMergeStacktracesResponse
				if err := proto.Unmarshal(pb, &m); err != nil {
					t.Fatal(err)
				}
				if string(m.Tree) != string(raw) {
					t.Fatalf("proto body tree differs from the JSON body")
				}
			}
			tr, err := UnmarshalTree(raw)
			if err != nil {
				t.Fatal(err)
			}
			budget := requestBudget(t, c.Request)
			if got := tr.MarshalTree(budget); string(got) == string(raw) {
				t.Logf("MarshalTree(%d) reproduces the golden bytes exactly (%d bytes)", budget, len(raw))
			} else {
				t.Errorf("MarshalTree(%d) differs from the golden bytes (%d vs %d bytes)", budget, len(got), len(raw))
			}
			again, err := UnmarshalTree(tr.MarshalTree(0))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := treeDump(again), treeDump(tr); !slices.Equal(g, w) {
				t.Fatalf("round trip differs")
			}

			if tc.flameSame != "" {
				fc := readCase(t, tc.flameSame)
				var fresp struct {
					Flamegraph *jsonFlameGraph `json:"flamegraph"`
				}
				if err := json.Unmarshal(fc.Response, &fresp); err != nil {
					t.Fatal(err)
				}
				g := fresp.Flamegraph
				fromFlame := treeFromLevels(rebuildLevels(t, g.Names, g.levels(t), 4, 0, false))
				if gd, wd := treeDump(tr), treeDump(fromFlame); !slices.Equal(gd, wd) {
					t.Fatalf("tree differs from the flame graph golden:\n%v\nwant\n%v", gd, wd)
				}
				fg := tr.FlameGraph(budget)
				if d := firstLevelDiff(namedLevels(fg.Names, levelValues(fg.Levels), 4), namedLevels(g.Names, g.levels(t), 4)); d != "" {
					t.Fatalf("flame graph of the decoded tree: %s", d)
				}
			}
			if tc.totalOf != "" {
				fc := readCase(t, tc.totalOf)
				var fresp struct {
					Flamegraph *jsonFlameGraph `json:"flamegraph"`
				}
				if err := json.Unmarshal(fc.Response, &fresp); err != nil {
					t.Fatal(err)
				}
				if tr.Total() != parseInt(t, fresp.Flamegraph.Total) {
					t.Fatalf("tree total %d, flame graph total %s", tr.Total(), fresp.Flamegraph.Total)
				}
			}
		})
	}
}

// TestGoldenCanonicalView checks CanonicalView against the
// response_canonical of every SelectMergeProfile golden, decoding the
// binary body where there is one and the JSON body otherwise.
func TestGoldenCanonicalView(t *testing.T) {
	td := sharedTestdata(t)
	var fromProto, fromJSON int
	for _, c := range loadGoldens(t, "SelectMergeProfile") {
		t.Run(c.Dataset+"/"+c.Name, func(t *testing.T) {
			var p googlev1.Profile
			if c.ProtoFile != "" {
				b, err := os.ReadFile(filepath.Join(td, "golden", c.Dataset, c.ProtoFile))
				if err != nil {
					t.Fatal(err)
				}
				if err := proto.Unmarshal(b, &p); err != nil {
					t.Fatal(err)
				}
				fromProto++
			} else {
				if err := protojson.Unmarshal(c.Response, &p); err != nil {
					t.Fatal(err)
				}
				fromJSON++
			}
			got, err := json.Marshal(CanonicalView(&p))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := normalizeJSON(t, got), normalizeJSON(t, c.Canonical); !reflect.DeepEqual(g, w) {
				t.Fatalf("canonical view differs:\n%s\nwant\n%s", got, c.Canonical)
			}
		})
	}
	t.Logf("canonical views: %d from binary bodies, %d from JSON bodies", fromProto, fromJSON)
}

func normalizeJSON(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// profilePartition turns a pprof profile into a partition: its samples'
// location stacks become the parent-pointer tree, its tables the symbols.
func profilePartition(t testing.TB, prof *googlev1.Profile) (*symdb.Partition, []int64) {
	t.Helper()
	p := &symdb.Partition{Strings: prof.StringTable}
	fnIndex := map[uint64]uint32{}
	for i, f := range prof.Function {
		fnIndex[f.Id] = uint32(i)
		p.Functions = append(p.Functions, symdb.Function{
			Name: uint32(f.Name), SystemName: uint32(f.SystemName), Filename: uint32(f.Filename), StartLine: f.StartLine,
		})
	}
	mapIndex := map[uint64]uint32{}
	for i, m := range prof.Mapping {
		mapIndex[m.Id] = uint32(i)
		p.Mappings = append(p.Mappings, symdb.Mapping{
			MemoryStart: m.MemoryStart, MemoryLimit: m.MemoryLimit, FileOffset: m.FileOffset,
			Filename: uint32(m.Filename), BuildID: uint32(m.BuildId),
			HasFunctions: m.HasFunctions, HasFilenames: m.HasFilenames, HasLineNumbers: m.HasLineNumbers, HasInlineFrames: m.HasInlineFrames,
		})
	}
	locIndex := map[uint64]int32{}
	for i, l := range prof.Location {
		locIndex[l.Id] = int32(i)
		loc := symdb.Location{MappingID: mapIndex[l.MappingId], Address: l.Address, IsFolded: l.IsFolded}
		for _, ln := range l.Line {
			loc.Lines = append(loc.Lines, symdb.Line{FunctionID: fnIndex[ln.FunctionId], Line: ln.Line})
		}
		p.Locations = append(p.Locations, loc)
	}
	type edge struct{ parent, loc int32 }
	nodes := map[edge]int32{}
	parents, locs := []int32{-1}, []int32{0}
	values := []int64{0}
	for _, s := range prof.Sample {
		cur := int32(0)
		for i := len(s.LocationId) - 1; i >= 0; i-- {
			e := edge{cur, locIndex[s.LocationId[i]]}
			n, ok := nodes[e]
			if !ok {
				n = int32(len(parents))
				parents = append(parents, cur)
				locs = append(locs, e.loc)
				values = append(values, 0)
				nodes[e] = n
			}
			cur = n
		}
		values[cur] += s.Value[0]
	}
	p.Tree = symdb.MustStackTree(parents, locs)
	return p, values
}

// TestGoldenPartitionEndToEnd feeds the untruncated SelectMergeProfile
// goldens back as partitions: ProfileBuilder must reproduce their canonical
// view, and Tree.AddPartition must reproduce the flame graph golden of the
// same query.
func TestGoldenPartitionEndToEnd(t *testing.T) {
	td := sharedTestdata(t)
	tests := []struct {
		profile, flame string
		callSite       []string // the golden's own selector: every sample passes it
	}{
		{"fixtures/SelectMergeProfile_cpu_all", "fixtures/SelectMergeStacktraces_process_cpu_cpu_nanoseconds_cpu_nanoseconds_all", nil},
		{"fixtures/SelectMergeProfile_cpu_svc_simple", "fixtures/SelectMergeStacktraces_cpu_svc_simple", nil},
		{"fixtures/SelectMergeProfile_alloc_b3_callsite", "", []string{"runtime.main"}},
		{"medium/SelectMergeProfile_cpu_svc_checkout", "medium/SelectMergeStacktraces_cpu_svc_checkout", nil},
		{"medium/boundary_block0_last_profile_window_incl_SelectMergeProfile_process_cpu_cpu_nanoseconds_cpu_nanoseconds", "", nil},
	}
	read := func(t *testing.T, name string) goldenCase {
		b, err := os.ReadFile(filepath.Join(td, "golden", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			c := read(t, tc.profile)
			var prof googlev1.Profile
			if c.ProtoFile != "" {
				b, err := os.ReadFile(filepath.Join(td, "golden", c.Dataset, c.ProtoFile))
				if err != nil {
					t.Fatal(err)
				}
				if err := proto.Unmarshal(b, &prof); err != nil {
					t.Fatal(err)
				}
			} else if err := protojson.Unmarshal(c.Response, &prof); err != nil {
				t.Fatal(err)
			}
			var req struct {
				ProfileTypeID string `json:"profileTypeID"`
				Start, End    int64
			}
			if err := json.Unmarshal(c.Request, &req); err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(req.ProfileTypeID, ":")
			pt := ProfileTypeInfo{Name: parts[0], SampleType: parts[1], SampleUnit: parts[2], PeriodType: parts[3], PeriodUnit: parts[4]}

			p, values := profilePartition(t, &prof)
			b := NewProfileBuilder(pt, req.Start, req.End)
			b.SetCallSite(tc.callSite)
			if err := b.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
			built := checkedBuild(t, b)
			checkProfileIDs(t, built)
			got := CanonicalView(built)
			want := CanonicalView(&prof)
			// Pyroscope merges samples by location stack; so does the
			// builder, but locations it considers equal may merge more.
			got.NumSamplesRaw = want.NumSamplesRaw
			gb, _ := json.Marshal(got)
			if g, w := normalizeJSON(t, gb), normalizeJSON(t, c.Canonical); !reflect.DeepEqual(g, w) {
				t.Fatalf("canonical view of the rebuilt profile differs")
			}

			if tc.flame == "" {
				return
			}
			tr := NewTree()
			if err := tr.AddPartition(p, values); err != nil {
				t.Fatal(err)
			}
			fc := read(t, tc.flame)
			var resp struct {
				Flamegraph *jsonFlameGraph `json:"flamegraph"`
			}
			if err := json.Unmarshal(fc.Response, &resp); err != nil {
				t.Fatal(err)
			}
			g := resp.Flamegraph
			budget := requestBudget(t, fc.Request)
			fg := tr.FlameGraph(budget)
			if d := firstLevelDiff(namedLevels(fg.Names, levelValues(fg.Levels), 4), namedLevels(g.Names, g.levels(t), 4)); d != "" {
				if !hasOther(g.Names, g.levels(t), 4) {
					t.Fatalf("flame graph: %s", d)
				}
				// Pyroscope truncated per block before merging, so the cut
				// differs near the cut-off (api.md §6.5.3), and a node kept
				// in one block but folded into "other" in another shows
				// only part of its value. So every node of the golden but
				// "other" must be in the full tree, with self and total at
				// most the full tree's.
				t.Logf("budget %d: %s; checking the golden's nodes against the full tree", budget, d)
				full := map[string]string{}
				for _, line := range treeDump(tr) {
					i := strings.LastIndex(line[:strings.LastIndex(line, " ")], " ")
					full[line[:i]] = line[i+1:]
				}
				nodes := rebuildLevels(t, g.Names, g.levels(t), 4, 0, false)
				checked, equal := 0, 0
				for li := 1; li < len(nodes); li++ {
					for ni, n := range nodes[li] {
						var path []string
						for l, i := li, ni; l > 0; l-- {
							path = append(path, nodes[l][i].name)
							i = nodes[l][i].parent
						}
						if slices.Contains(path, "other") {
							continue
						}
						slices.Reverse(path)
						key := strings.Join(path, ";")
						var self, total int64
						if _, err := fmt.Sscan(full[key], &self, &total); err != nil {
							t.Fatalf("golden node %s is not in the full tree", key)
						}
						if n.self > self || n.total > total {
							t.Fatalf("golden node %s: self/total %d %d, full tree %d %d", key, n.self, n.total, self, total)
						}
						checked++
						if n.self == self && n.total == total {
							equal++
						}
					}
				}
				t.Logf("%d golden nodes found in the full tree, %d with equal self and total", checked, equal)
				return
			}
			if fg.Total != parseInt(t, g.Total) || fg.MaxSelf != parseInt(t, g.MaxSelf) || !slices.Equal(fg.Names, g.Names) {
				t.Fatalf("total %d maxSelf %d (golden %s %s), names equal: %v", fg.Total, fg.MaxSelf, g.Total, g.MaxSelf, slices.Equal(fg.Names, g.Names))
			}
		})
	}
}
