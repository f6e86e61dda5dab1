package bucket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
)

// deletionMarkVersion1 is the only deletion-mark.json version ever written.
const deletionMarkVersion1 = 1

// errCorruptMarker wraps every reason a deletion mark's content is rejected.
var errCorruptMarker = errors.New("corrupt deletion mark")

// deletionMark is the content of deletion-mark.json, identical in the block
// directory and in markers/<ULID>-deletion-mark.json (block-format.md §2.2).
type deletionMark struct {
	ID      ulid.ULID `json:"id"`
	Version int       `json:"version"`
	Details string    `json:"details,omitempty"`
	// DeletionTime is in Unix seconds.
	DeletionTime int64 `json:"deletion_time"`
}

// parseDeletionMark decodes a deletion mark of block id and returns when the
// block was marked. Every error wraps errCorruptMarker.
func parseDeletionMark(data []byte, id ulid.ULID) (time.Time, error) {
	var m deletionMark
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", errCorruptMarker, err)
	}
	switch {
	case m.Version != deletionMarkVersion1:
		return time.Time{}, fmt.Errorf("%w: unsupported version %d", errCorruptMarker, m.Version)
	case m.ID != id:
		return time.Time{}, fmt.Errorf("%w: marks block %s", errCorruptMarker, m.ID)
	case m.DeletionTime <= 0:
		return time.Time{}, fmt.Errorf("%w: deletion_time %d", errCorruptMarker, m.DeletionTime)
	}
	return time.Unix(m.DeletionTime, 0), nil
}
