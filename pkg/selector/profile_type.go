package selector

import (
	"errors"
	"fmt"
	"strings"
)

// ProfileTypeLabel is the reserved series label that holds a series' profile
// type ID; queries select a type through it.
const ProfileTypeLabel = "__profile_type__"

// ErrInvalidProfileType is wrapped by every profile type parse error.
var ErrInvalidProfileType = errors.New("invalid profile type")

// ProfileType is a parsed profile type ID of the form
// name:sample_type:sample_unit:period_type:period_unit, e.g.
// process_cpu:cpu:nanoseconds:cpu:nanoseconds. Any part may be empty.
type ProfileType struct {
	// ID is the five-part ID, the value of the __profile_type__ label.
	ID         string
	Name       string
	SampleType string
	SampleUnit string
	PeriodType string
	PeriodUnit string
}

// ParseProfileTypeID parses a profile type ID as clients send it. A sixth
// part (historically ":delta") is tolerated and ignored, as Pyroscope does.
func ParseProfileTypeID(id string) (ProfileType, error) {
	parts := strings.Split(id, ":")
	if len(parts) != 5 && len(parts) != 6 {
		return ProfileType{}, fmt.Errorf("%w: profile-type selection must be of the form "+
			"<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), got(%d): %q",
			ErrInvalidProfileType, len(parts), id)
	}
	return ProfileType{
		ID:         strings.Join(parts[:5], ":"),
		Name:       parts[0],
		SampleType: parts[1],
		SampleUnit: parts[2],
		PeriodType: parts[3],
		PeriodUnit: parts[4],
	}, nil
}
