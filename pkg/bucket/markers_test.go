package bucket

import (
	"errors"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestParseDeletionMark(t *testing.T) {
	id := ulid.MustParse(fixtureV2)
	for _, tc := range []struct {
		name string
		data string
		want time.Time
		ok   bool
	}{
		{"valid", `{"id":"` + fixtureV2 + `","version":1,"details":"compacted","deletion_time":1700000000}`, time.Unix(1700000000, 0), true},
		{"unknown keys", `{"id":"` + fixtureV2 + `","version":1,"deletion_time":1700000000,"extra":[1]}`, time.Unix(1700000000, 0), true},
		{"version 2", `{"id":"` + fixtureV2 + `","version":2,"deletion_time":1700000000}`, time.Time{}, false},
		{"other block", `{"id":"` + fixtureV1 + `","version":1,"deletion_time":1700000000}`, time.Time{}, false},
		{"no time", `{"id":"` + fixtureV2 + `","version":1}`, time.Time{}, false},
		{"time in a string", `{"id":"` + fixtureV2 + `","version":1,"deletion_time":"1700000000"}`, time.Time{}, false},
		{"bad id", `{"id":"nope","version":1,"deletion_time":1700000000}`, time.Time{}, false},
		{"empty", ``, time.Time{}, false},
		{"truncated", `{"id":"` + fixtureV2 + `","vers`, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDeletionMark([]byte(tc.data), id)
			if tc.ok != (err == nil) || !got.Equal(tc.want) {
				t.Fatalf("parseDeletionMark = %v, %v", got, err)
			}
			if err != nil && !errors.Is(err, errCorruptMarker) {
				t.Errorf("error %v does not wrap errCorruptMarker", err)
			}
		})
	}
}

func FuzzParseDeletionMark(f *testing.F) {
	f.Add([]byte(`{"id":"` + fixtureV2 + `","version":1,"deletion_time":1700000000}`))
	f.Add([]byte(`{"id":"` + fixtureV2 + `","version":1,"deletion_time":-1}`))
	f.Add([]byte(`{`))
	id := ulid.MustParse(fixtureV2)
	f.Fuzz(func(t *testing.T, data []byte) {
		at, err := parseDeletionMark(data, id)
		if err != nil {
			if !errors.Is(err, errCorruptMarker) || !at.IsZero() {
				t.Fatalf("failed parse returned %v, %v", at, err)
			}
			return
		}
		if at.Unix() <= 0 {
			t.Fatalf("accepted deletion time %v", at)
		}
	})
}
