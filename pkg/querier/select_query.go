package querier

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/cinder-profiling/cinder/pkg/selector"
)

// selectQuery is a validated Select* request: which profiles to read.
type selectQuery struct {
	profileType selector.ProfileType
	// matchers are the label selector's plus the profile type's.
	matchers   []*labels.Matcher
	start, end int64 // ms, inclusive
	// empty means the answer is known to be empty without reading.
	empty bool
	// profileIDs, when non-nil, keeps only the profiles with these IDs.
	profileIDs map[[16]byte]struct{}
	// spanIDs, when non-nil, keeps only the samples of these spans.
	spanIDs map[uint64]struct{}
	// callSite, when set, keeps only the stacks that start with these
	// frames, root first.
	callSite []string
}

// parseSelectQuery validates the parts every Select* request shares, in the
// order Pyroscope's frontend does: time range, profile type, selector.
func (s *Service) parseSelectQuery(profileTypeID, labelSelector string, start, end int64, profileIDs []string) (selectQuery, error) {
	tr, err := s.selectRange(start, end)
	if err != nil {
		return selectQuery{}, err
	}
	pt, err := selector.ParseProfileTypeID(profileTypeID)
	if err != nil {
		return selectQuery{}, err
	}
	ms, err := selector.ParseSelector(labelSelector)
	if err != nil {
		return selectQuery{}, err
	}
	q := selectQuery{
		profileType: pt,
		matchers:    append(ms, labels.MustNewMatcher(labels.MatchEqual, selector.ProfileTypeLabel, pt.ID)),
		start:       tr.start,
		end:         tr.end,
		// A zero-length range selects nothing in Pyroscope (its range
		// splitter yields no sub-range); clients rely on that answer.
		empty: tr.empty || start == end,
	}
	if len(profileIDs) > 0 {
		q.profileIDs = make(map[[16]byte]struct{}, len(profileIDs))
		for _, id := range profileIDs {
			u, err := parseUUID(id)
			if err != nil {
				return selectQuery{}, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("profile_id_selector: %w", err))
			}
			q.profileIDs[u] = struct{}{}
		}
	}
	return q, nil
}

var errBadUUID = errors.New("not a UUID (want 8-4-4-4-12 hex digits)")

// parseUUID parses the canonical text form of a UUID.
func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("%q: %w", s, errBadUUID)
	}
	hexDigits := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(hexDigits)); err != nil {
		return u, fmt.Errorf("%q: %w", s, errBadUUID)
	}
	return u, nil
}

// parseSpanIDs parses span IDs as 16 hex digits; a span ID is the
// little-endian integer of its 8 bytes, as stored.
func parseSpanIDs(ids []string) (map[uint64]struct{}, error) {
	out := make(map[uint64]struct{}, len(ids))
	for i, id := range ids {
		var b [8]byte
		if len(id) != 16 {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("span_selector[%d]: %q is not 16 hex digits", i, id))
		}
		if _, err := hex.Decode(b[:], []byte(id)); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("span_selector[%d]: %q is not 16 hex digits", i, id))
		}
		out[binary.LittleEndian.Uint64(b[:])] = struct{}{}
	}
	return out, nil
}
