package selector

import (
	"errors"
	"fmt"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// ErrInvalidSelector is wrapped by every label selector parse error.
var ErrInvalidSelector = errors.New("invalid label selector")

// promQL is stateless; one value serves every request.
var promQL = parser.NewParser(parser.Options{})

// ParseSelector parses one Prometheus metric selector such as
// {service_name="api", pod=~"api-.*"}. "{}" is valid and yields no matchers
// (every series); the empty string is not a selector. A leading metric name
// becomes a __name__ matcher, as in PromQL.
func ParseSelector(s string) ([]*labels.Matcher, error) {
	ms, err := promQL.ParseMetricSelector(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSelector, err)
	}
	return ms, nil
}

// ParseSelectors parses each selector of a request's matchers field.
func ParseSelectors(ss []string) ([][]*labels.Matcher, error) {
	sets := make([][]*labels.Matcher, 0, len(ss))
	for _, s := range ss {
		ms, err := ParseSelector(s)
		if err != nil {
			return nil, err
		}
		sets = append(sets, ms)
	}
	return sets, nil
}

// SelectsAll reports whether a list of matcher sets, as label RPCs receive
// them, selects every series: no sets at all, or any empty set ("{}").
func SelectsAll(sets [][]*labels.Matcher) bool {
	if len(sets) == 0 {
		return true
	}
	for _, ms := range sets {
		if len(ms) == 0 {
			return true
		}
	}
	return false
}
