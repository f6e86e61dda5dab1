package querier

import (
	"strings"
	"testing"
	"time"
)

func TestParseLegacyTime(t *testing.T) {
	now := time.UnixMilli(1700000000000).UTC()
	for in, want := range map[string]int64{
		"":                    1700000000000,
		"now":                 1700000000000,
		"garbage":             1700000000000,
		"now-1h":              1700000000000 - 3600000,
		"now-3h30m":           1700000000000 - 3*3600000 - 30*60000,
		"now+1d":              1700000000000 + 86400000,
		"anything-15min":      1700000000000 - 15*60000,
		"now-2w":              1700000000000 - 14*86400000,
		"now-1M":              1700000000000 - 30*86400000,
		"now-1y":              1700000000000 - 365*86400000,
		"now-1x":              1700000000000,
		"1694460120":          1694460120000,
		"1694460120000":       1694460120000,
		"1694460120000123":    1694460120000,
		"1694460120000123456": 1694460120000,
		"20230911":            1694390400000,
		"2023_09_11":          1694390400000,
		"1,694,460,120":       1694460120000,
		"99999999":            99999999000, // not a date: seconds
	} {
		if got := parseLegacyTime(in, now); got != want {
			t.Errorf("parseLegacyTime(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPointInterval(t *testing.T) {
	for _, tc := range []struct {
		rangeDur time.Duration
		want     time.Duration
	}{
		{90 * time.Second, 15 * time.Second},
		{time.Hour, 15 * time.Second},
		{3 * time.Hour, 15 * time.Second},
		{24 * time.Hour, time.Minute},
		{7 * 24 * time.Hour, 5 * time.Minute},
		{100000000 * time.Second, 12 * time.Hour}, // golden render_cpu_simple
	} {
		if got := pointInterval(0, tc.rangeDur.Milliseconds()); got != tc.want {
			t.Errorf("pointInterval(%v) = %v, want %v", tc.rangeDur, got, tc.want)
		}
	}
}

func TestParseLegacyQuery(t *testing.T) {
	for _, tc := range []struct {
		in, wantType, wantSelector, wantErr string
	}{
		{`process_cpu:cpu:nanoseconds:cpu:nanoseconds{}`, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "{}", ""},
		{`memory:alloc_space:bytes:space:bytes{service_name="a", pod=~"b.*"}`, "memory:alloc_space:bytes:space:bytes", `{service_name="a",pod=~"b.*"}`, ""},
		{``, "", "", `"query" is required`},
		{`{service_name="x"}`, "", "", `"query" must contain a profile-type selection`},
		{`process_cpu{}`, "", "", `failed to parse "query": invalid profile type`},
		{`process_cpu:cpu:nanoseconds:cpu:nanoseconds{a=`, "", "", `failed to parse "query": 1:`},
	} {
		q, err := parseLegacyQuery(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "<nil>") {
				t.Errorf("%q: got error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || q.profileType.ID != tc.wantType || q.labelSelector != tc.wantSelector {
			t.Errorf("%q: got %+v %v, want %s %s", tc.in, q, err, tc.wantType, tc.wantSelector)
		}
	}
}
