package querier

import (
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
