package blockwriter

import (
	"errors"
	"fmt"
	"slices"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// Errors Add rejects a profile with, wrapped with what was wrong.
var (
	// ErrEmptyProfile: the profile has no sample with a stack and a
	// positive value, so it would add nothing to the block.
	ErrEmptyProfile = errors.New("empty profile")
	// ErrInvalidProfile: the profile's references are inconsistent
	// (dangling IDs, string indexes out of range, wrong value counts).
	ErrInvalidProfile = errors.New("invalid profile")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidProfile, fmt.Sprintf(format, args...))
}

// profileRefs indexes a pprof profile's tables by ID after checking every
// reference, so that conversion needs no further checks.
type profileRefs struct {
	p         *googlev1.Profile
	functions map[uint64]int // pprof ID → position in p.Function
	mappings  map[uint64]int
	locations map[uint64]int
}

func checkProfile(p *googlev1.Profile) (*profileRefs, error) {
	if p == nil {
		return nil, invalidf("nil profile")
	}
	nStr := int64(len(p.StringTable))
	if nStr == 0 || p.StringTable[0] != "" {
		return nil, invalidf("string table must start with \"\"")
	}
	str := func(what string, i int64) error {
		if i < 0 || i >= nStr {
			return invalidf("%s refers to string %d of %d", what, i, nStr)
		}
		return nil
	}
	if len(p.SampleType) == 0 {
		return nil, invalidf("no sample types")
	}
	for i, st := range p.SampleType {
		if st == nil {
			return nil, invalidf("sample type %d is nil", i)
		}
		if err := errors.Join(str("sample type", st.Type), str("sample type", st.Unit)); err != nil {
			return nil, err
		}
		if p.StringTable[st.Type] == "" {
			return nil, invalidf("sample type %d has no name", i)
		}
	}
	if pt := p.PeriodType; pt != nil {
		if err := errors.Join(str("period type", pt.Type), str("period type", pt.Unit)); err != nil {
			return nil, err
		}
	}
	r := &profileRefs{
		p:         p,
		functions: make(map[uint64]int, len(p.Function)),
		mappings:  make(map[uint64]int, len(p.Mapping)),
		locations: make(map[uint64]int, len(p.Location)),
	}
	for i, f := range p.Function {
		if f == nil || f.Id == 0 {
			return nil, invalidf("function %d has no ID", i)
		}
		if _, dup := r.functions[f.Id]; dup {
			return nil, invalidf("function ID %d used twice", f.Id)
		}
		if err := errors.Join(str("function name", f.Name), str("function system name", f.SystemName), str("function filename", f.Filename)); err != nil {
			return nil, err
		}
		r.functions[f.Id] = i
	}
	for i, m := range p.Mapping {
		if m == nil || m.Id == 0 {
			return nil, invalidf("mapping %d has no ID", i)
		}
		if _, dup := r.mappings[m.Id]; dup {
			return nil, invalidf("mapping ID %d used twice", m.Id)
		}
		if err := errors.Join(str("mapping filename", m.Filename), str("mapping build ID", m.BuildId)); err != nil {
			return nil, err
		}
		r.mappings[m.Id] = i
	}
	for i, l := range p.Location {
		if l == nil || l.Id == 0 {
			return nil, invalidf("location %d has no ID", i)
		}
		if _, dup := r.locations[l.Id]; dup {
			return nil, invalidf("location ID %d used twice", l.Id)
		}
		if _, ok := r.mappings[l.MappingId]; l.MappingId != 0 && !ok {
			return nil, invalidf("location %d refers to unknown mapping %d", l.Id, l.MappingId)
		}
		for _, ln := range l.Line {
			if ln == nil {
				return nil, invalidf("location %d has a nil line", l.Id)
			}
			if _, ok := r.functions[ln.FunctionId]; !ok {
				return nil, invalidf("location %d refers to unknown function %d", l.Id, ln.FunctionId)
			}
		}
		r.locations[l.Id] = i
	}
	useful := false
	for i, s := range p.Sample {
		if s == nil {
			return nil, invalidf("sample %d is nil", i)
		}
		if len(s.Value) != len(p.SampleType) {
			return nil, invalidf("sample %d has %d values for %d sample types", i, len(s.Value), len(p.SampleType))
		}
		for _, id := range s.LocationId {
			if _, ok := r.locations[id]; !ok {
				return nil, invalidf("sample %d refers to unknown location %d", i, id)
			}
		}
		if !useful && len(s.LocationId) > 0 && slices.ContainsFunc(s.Value, func(v int64) bool { return v > 0 }) {
			useful = true
		}
	}
	if !useful {
		return nil, fmt.Errorf("%w: %d samples, none with a stack and a positive value", ErrEmptyProfile, len(p.Sample))
	}
	return r, nil
}

// symbolMapper copies the symbols one profile uses into a partition, each
// once, and remembers the positions it gave them.
type symbolMapper struct {
	refs      *profileRefs
	part      *partition
	strings   []int32 // pprof string index → partition string, -1 until copied
	functions []int32 // position in p.Function → partition function
	mappings  []int32
	locations []int32
}

func newSymbolMapper(refs *profileRefs, part *partition) *symbolMapper {
	p := refs.p
	fill := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = -1
		}
		return s
	}
	return &symbolMapper{
		refs: refs, part: part,
		strings:   fill(len(p.StringTable)),
		functions: fill(len(p.Function)),
		mappings:  fill(len(p.Mapping)),
		locations: fill(len(p.Location)),
	}
}

func (m *symbolMapper) str(i int64) uint32 {
	if v := m.strings[i]; v >= 0 {
		return uint32(v)
	}
	v := m.part.internString(m.refs.p.StringTable[i])
	m.strings[i] = int32(v)
	return v
}

func (m *symbolMapper) function(id uint64) uint32 {
	i := m.refs.functions[id]
	if v := m.functions[i]; v >= 0 {
		return uint32(v)
	}
	f := m.refs.p.Function[i]
	v := m.part.internFunction(function{
		name: m.str(f.Name), systemName: m.str(f.SystemName), filename: m.str(f.Filename), startLine: f.StartLine,
	})
	m.functions[i] = int32(v)
	return v
}

// mapping returns the partition mapping of a pprof mapping ID; ID 0 (no
// mapping) is stored as 0, which format 2 cannot tell from the first
// mapping (block-format.md §11.2).
func (m *symbolMapper) mapping(id uint64) uint32 {
	if id == 0 {
		return 0
	}
	i := m.refs.mappings[id]
	if v := m.mappings[i]; v >= 0 {
		return uint32(v)
	}
	pm := m.refs.p.Mapping[i]
	var flags uint8
	for bit, set := range []bool{pm.HasInlineFrames, pm.HasLineNumbers, pm.HasFilenames, pm.HasFunctions} {
		if set {
			flags |= 1 << bit
		}
	}
	v := m.part.internMapping(mapping{
		memoryStart: pm.MemoryStart, memoryLimit: pm.MemoryLimit, fileOffset: pm.FileOffset,
		filename: m.str(pm.Filename), buildID: m.str(pm.BuildId), flags: flags,
	})
	m.mappings[i] = int32(v)
	return v
}

func (m *symbolMapper) location(id uint64) int32 {
	i := m.refs.locations[id]
	if v := m.locations[i]; v >= 0 {
		return v
	}
	pl := m.refs.p.Location[i]
	loc := location{mappingID: m.mapping(pl.MappingId), address: pl.Address, isFolded: pl.IsFolded}
	if len(pl.Line) > 0 {
		loc.lines = make([]line, len(pl.Line))
		for j, ln := range pl.Line {
			loc.lines[j] = line{functionID: m.function(ln.FunctionId), line: ln.Line}
		}
	}
	v := int32(m.part.internLocation(loc))
	m.locations[i] = v
	return v
}

// stackSample is a sample of a profile with its stack-trace ID.
type stackSample struct {
	stacktraceID uint32
	sample       int // position in p.Sample
}

// convertSamples inserts the stack of every sample that has one and a
// positive value into the partition, and returns the samples sorted by
// stack-trace ID.
func (m *symbolMapper) convertSamples() []stackSample {
	p := m.refs.p
	out := make([]stackSample, 0, len(p.Sample))
	var locs []int32
	for i, s := range p.Sample {
		if len(s.LocationId) == 0 || !slices.ContainsFunc(s.Value, func(v int64) bool { return v > 0 }) {
			continue
		}
		locs = locs[:0]
		for _, id := range s.LocationId {
			locs = append(locs, m.location(id))
		}
		out = append(out, stackSample{stacktraceID: m.part.insertStack(locs), sample: i})
	}
	slices.SortStableFunc(out, func(a, b stackSample) int { return int(a.stacktraceID) - int(b.stacktraceID) })
	return out
}
