package flamegraph

import "github.com/cinder-profiling/cinder/pkg/symdb"

// CallSiteMatcher finds the stacks of a partition that pass a call_site
// stack trace selector (api.md §6.13): a stack matches when its first
// len(callSite) frames, root first with inlined lines expanded and
// line-less locations contributing nothing, equal callSite name by name.
// Shorter stacks do not match. SelectSeries uses it to sum the matching
// samples of a profile; ProfileBuilder uses it through SetCallSite.
//
// A CallSiteMatcher reuses its buffers and is not safe for concurrent use.
type CallSiteMatcher struct {
	callSite []string
	parents  []int32
	state    []int32
	match    []bool
}

// NewCallSiteMatcher returns a matcher for callSite, root first. An empty
// callSite matches every non-empty stack.
func NewCallSiteMatcher(callSite []string) *CallSiteMatcher {
	return &CallSiteMatcher{callSite: callSite}
}

// Match reports for every node of p whether the stack ending at it matches.
// The slice is reused by the next call. Chunk roots (the empty stack)
// never match.
func (m *CallSiteMatcher) Match(p *symdb.Partition) []bool {
	n := p.Tree.Len()
	parents := p.Tree.AppendParents(m.parents[:0])
	m.parents = parents
	m.state = growScratch(m.state, n)
	if cap(m.match) < n {
		m.match = make([]bool, n)
	}
	m.match = m.match[:n]
	want := int32(len(m.callSite))
	// state[i]: how many call-site names the frames down to node i
	// matched, or -1 after a mismatch.
	for i := 0; i < n; i++ {
		par := parents[i]
		if par < 0 {
			m.state[i] = 0
			m.match[i] = false
			continue
		}
		s := m.state[par]
		if s >= 0 && s < want {
			lines := p.Locations[p.Tree.Location(int32(i))].Lines
			for j := len(lines) - 1; j >= 0 && s >= 0 && s < want; j-- {
				if p.Strings[p.Functions[lines[j].FunctionID].Name] == m.callSite[s] {
					s++
				} else {
					s = -1
				}
			}
		}
		m.state[i] = s
		m.match[i] = s == want
	}
	return m.match
}
