package flamegraph

import (
	"slices"
	"strings"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// CanonicalProfile is an order-independent view of a pprof profile, the
// "response_canonical" of the SelectMergeProfile goldens: Pyroscope numbers
// samples, locations, functions and strings differently from call to call,
// so merged profiles are compared through this view. Marshalled with
// encoding/json it has the goldens' field names.
type CanonicalProfile struct {
	SampleTypes   [][2]string       `json:"sample_types"`
	PeriodType    [2]string         `json:"period_type"`
	Period        int64             `json:"period"`
	DurationNanos int64             `json:"duration_nanos"`
	TimeNanos     int64             `json:"time_nanos"`
	Totals        []int64           `json:"totals"`
	NumSamplesRaw int               `json:"num_samples_raw"`
	Samples       []CanonicalSample `json:"samples"`
}

// CanonicalSample is one distinct stack of a CanonicalProfile with its
// summed values.
type CanonicalSample struct {
	// Stack is the function names, leaf first, inlined lines expanded
	// (innermost first within a location, as stored).
	Stack  []string `json:"stack"`
	Values []int64  `json:"values"`
}

// CanonicalView returns the canonical view of p: sample and period types
// by name, period, duration and time, per-type totals, the raw sample count
// and the samples keyed by their stack of function names with values summed
// per distinct stack, sorted by stack. Dangling references read as empty
// names.
func CanonicalView(p *googlev1.Profile) CanonicalProfile {
	str := func(i int64) string {
		if i < 0 || i >= int64(len(p.GetStringTable())) {
			return ""
		}
		return p.StringTable[i]
	}
	c := CanonicalProfile{
		Period:        p.GetPeriod(),
		DurationNanos: p.GetDurationNanos(),
		TimeNanos:     p.GetTimeNanos(),
		NumSamplesRaw: len(p.GetSample()),
		SampleTypes:   [][2]string{},
		Totals:        make([]int64, len(p.GetSampleType())),
		Samples:       []CanonicalSample{},
	}
	for _, st := range p.GetSampleType() {
		c.SampleTypes = append(c.SampleTypes, [2]string{str(st.GetType()), str(st.GetUnit())})
	}
	c.PeriodType = [2]string{str(p.GetPeriodType().GetType()), str(p.GetPeriodType().GetUnit())}

	functions := make(map[uint64]string, len(p.GetFunction()))
	for _, f := range p.GetFunction() {
		functions[f.GetId()] = str(f.GetName())
	}
	locations := make(map[uint64][]string, len(p.GetLocation()))
	for _, l := range p.GetLocation() {
		names := make([]string, 0, len(l.GetLine()))
		for _, ln := range l.GetLine() {
			names = append(names, functions[ln.GetFunctionId()])
		}
		locations[l.GetId()] = names
	}

	index := make(map[string]int)
	for _, s := range p.GetSample() {
		var stack []string
		for _, id := range s.GetLocationId() {
			stack = append(stack, locations[id]...)
		}
		for i, v := range s.GetValue() {
			if i < len(c.Totals) {
				c.Totals[i] += v
			}
		}
		key := strings.Join(stack, "\x00")
		i, ok := index[key]
		if !ok {
			i = len(c.Samples)
			index[key] = i
			if stack == nil {
				stack = []string{}
			}
			c.Samples = append(c.Samples, CanonicalSample{Stack: stack, Values: make([]int64, len(s.GetValue()))})
		}
		values := c.Samples[i].Values
		for j, v := range s.GetValue() {
			if j < len(values) {
				values[j] += v
			} else {
				c.Samples[i].Values = append(c.Samples[i].Values, v)
			}
		}
	}
	slices.SortFunc(c.Samples, func(a, b CanonicalSample) int {
		return slices.Compare(a.Stack, b.Stack)
	})
	return c
}
