package blockwriter

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Reserved label names (api.md §4). The writer derives all of them except
// LabelName, which the caller must give.
const (
	LabelName         = "__name__"
	LabelType         = "__type__"
	LabelUnit         = "__unit__"
	LabelPeriodType   = "__period_type__"
	LabelPeriodUnit   = "__period_unit__"
	LabelProfileType  = "__profile_type__"
	LabelServiceName  = "__service_name__"
	LabelService      = "service_name"
	unknownServiceKey = "unknown"
)

// ingestionHints are labels that Pyroscope consumes at ingestion and never
// stores; the writer drops them too.
var ingestionHints = map[string]bool{"__delta__": true, "__otel__": true, "__order__": true}

// derivedLabels may not be given by callers: the writer computes them from
// the profile's sample and period types.
var derivedLabels = map[string]bool{
	LabelType: true, LabelUnit: true, LabelPeriodType: true, LabelPeriodUnit: true,
	LabelProfileType: true, LabelServiceName: true,
}

// ErrInvalidLabels is wrapped by every error about the labels given to Add.
var ErrInvalidLabels = errors.New("invalid labels")

// Label is one name/value pair of a series.
type Label struct{ Name, Value string }

// Labels is a label set. The writer sorts a copy by name; callers may pass
// it in any order.
type Labels []Label

// LabelsFromMap returns the labels of m sorted by name.
func LabelsFromMap(m map[string]string) Labels {
	ls := make(Labels, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ls = append(ls, Label{k, m[k]})
	}
	return ls
}

// ParseLabels parses "name=value,name=value" as given on a command line.
// Values may not contain commas.
func ParseLabels(s string) (Labels, error) {
	var ls Labels
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not name=value", ErrInvalidLabels, kv)
		}
		ls = append(ls, Label{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	return ls, nil
}

// Get returns the value of the label called name.
func (ls Labels) Get(name string) (string, bool) {
	for _, l := range ls {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}

// String formats the labels as {a="b", c="d"}.
func (ls Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// validLabelName reports whether s is a Prometheus label name:
// [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// normalizeLabels checks the caller's labels and returns them sorted by
// name, without ingestion hints and without empty values (an empty value is
// the same as no label, as in Prometheus).
func normalizeLabels(in Labels) (Labels, error) {
	out := make(Labels, 0, len(in)+6)
	for _, l := range in {
		switch {
		case !validLabelName(l.Name):
			return nil, fmt.Errorf("%w: label name %q is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)", ErrInvalidLabels, l.Name)
		case !utf8.ValidString(l.Value):
			return nil, fmt.Errorf("%w: value of label %s is not valid UTF-8: %q", ErrInvalidLabels, l.Name, l.Value)
		case derivedLabels[l.Name]:
			return nil, fmt.Errorf("%w: label %s is derived from the profile and may not be given", ErrInvalidLabels, l.Name)
		case ingestionHints[l.Name] || l.Value == "":
			continue
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			return nil, fmt.Errorf("%w: label %s given twice", ErrInvalidLabels, out[i].Name)
		}
	}
	if _, ok := out.Get(LabelName); !ok {
		return nil, fmt.Errorf("%w: no %s label (the profile name, e.g. process_cpu or memory)", ErrInvalidLabels, LabelName)
	}
	return out, nil
}

// sampleTypeLabels returns the series labels of one sample type: base (the
// normalized caller labels) plus the reserved labels, sorted by name.
func sampleTypeLabels(base Labels, typ, unit, periodType, periodUnit string) Labels {
	name, _ := base.Get(LabelName)
	ls := make(Labels, 0, len(base)+6)
	ls = append(ls, base...)
	add := func(n, v string) {
		if v != "" {
			ls = append(ls, Label{n, v})
		}
	}
	add(LabelType, typ)
	add(LabelUnit, unit)
	add(LabelPeriodType, periodType)
	add(LabelPeriodUnit, periodUnit)
	add(LabelProfileType, strings.Join([]string{name, typ, unit, periodType, periodUnit}, ":"))
	if svc, ok := base.Get(LabelService); ok {
		add(LabelServiceName, svc)
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// fingerprint is the series fingerprint: xxHash64 of name, 0xFF, value,
// 0xFF over the labels in stored order (block-format.md §4.5).
func fingerprint(ls Labels) uint64 {
	h := xxhash.New()
	sep := []byte{0xff}
	for _, l := range ls {
		h.WriteString(l.Name)
		h.Write(sep)
		h.WriteString(l.Value)
		h.Write(sep)
	}
	return h.Sum64()
}

// seriesKey is a label set as one string, for map lookups.
func seriesKey(ls Labels) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Name)
		b.WriteByte(0xff)
		b.WriteString(l.Value)
		b.WriteByte(0xff)
	}
	return b.String()
}

// compareLabelSets orders series as Pyroscope sorts them: pair by pair,
// name then value, byte-wise; a prefix sorts first.
func compareLabelSets(a, b Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// partitionKey is the symdb partition of a profile with these labels:
// xxHash64 of service_name, or of "unknown" without one (block-format.md
// §5.7, without the mapping-file rule).
func partitionKey(ls Labels) uint64 {
	if svc, ok := ls.Get(LabelService); ok {
		return xxhash.Sum64String(svc)
	}
	return xxhash.Sum64String(unknownServiceKey)
}
