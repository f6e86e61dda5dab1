package querier

import (
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/common/model"
)

// timeRange is a validated query range in milliseconds, both ends inclusive.
type timeRange struct {
	start, end int64
	// empty means the answer is known to be empty without reading anything.
	empty bool
}

var (
	errMissingTimeRange = errors.New("missing time range in the query")
	errStartAfterEnd    = errors.New("query start time is after end time")
)

// labelRange validates the range of a label RPC (ProfileTypes, LabelNames,
// LabelValues, Series). A range with a zero end is Pyroscope's "legacy mode",
// which asks only ingesters for their recent data; a blocks-only server holds
// no such data, so the answer is empty, as Pyroscope's is over bucket blocks.
func (s *Service) labelRange(start, end int64) (timeRange, error) {
	if start == 0 || end == 0 {
		return timeRange{empty: true}, nil
	}
	return s.checkRange(start, end)
}

// selectRange validates the range of a Select* or Diff request.
func (s *Service) selectRange(start, end int64) (timeRange, error) {
	if start == 0 || end == 0 {
		return timeRange{}, connect.NewError(connect.CodeInvalidArgument, errMissingTimeRange)
	}
	return s.checkRange(start, end)
}

func (s *Service) checkRange(start, end int64) (timeRange, error) {
	if start > end {
		return timeRange{}, connect.NewError(connect.CodeInvalidArgument, errStartAfterEnd)
	}
	tr := timeRange{start: start, end: end}
	if lb := s.cfg.MaxQueryLookback; lb > 0 {
		oldest := s.now().Add(-lb).UnixMilli()
		if end < oldest {
			return timeRange{empty: true}, nil
		}
		tr.start = max(tr.start, oldest)
	}
	if ml := s.cfg.MaxQueryLength; ml > 0 {
		if length := time.Duration(tr.end-tr.start) * time.Millisecond; length > ml {
			return timeRange{}, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(
				"the query time range exceeds the limit (max_query_length, actual: %s, limit: %s)",
				length, model.Duration(ml)))
		}
	}
	return tr, nil
}
