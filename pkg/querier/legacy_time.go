package querier

import (
	"strconv"
	"strings"
	"time"
)

// parseLegacyTime parses the from/until parameters of the /pyroscope/*
// endpoints into milliseconds: digits are a Unix time whose unit follows
// from their count (13 ms, 16 µs, 19 ns, else seconds) or, with 8 digits
// that form a date, that UTC day; anything else is now plus an optional
// offset such as "now-3h30m". Text that cannot be parsed means now, as in
// Pyroscope; a missing value means now too.
func parseLegacyTime(s string, now time.Time) int64 {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '_' || r == ',' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return now.UnixMilli()
	}
	if allDigits(s) {
		if len(s) == 8 {
			if d, err := time.Parse("20060102", s); err == nil {
				return d.UnixMilli()
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return now.UnixMilli()
		}
		switch len(s) {
		case 13:
			return n
		case 16:
			return n / 1e3
		case 19:
			return n / 1e6
		default:
			return n * 1e3
		}
	}
	i := strings.IndexAny(s, "+-")
	if i < 0 {
		return now.UnixMilli()
	}
	offset, ok := parseLegacyOffset(s[i+1:])
	if !ok {
		return now.UnixMilli()
	}
	if s[i] == '-' {
		offset = -offset
	}
	return now.Add(offset).UnixMilli()
}

// parseLegacyOffset parses a sequence of <n><unit> terms.
func parseLegacyOffset(s string) (time.Duration, bool) {
	var total time.Duration
	for s != "" {
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(s[:j], 10, 64)
		if err != nil {
			return 0, false
		}
		s = s[j:]
		k := 0
		for k < len(s) && (s[k] < '0' || s[k] > '9') {
			k++
		}
		var unit time.Duration
		switch s[:k] {
		case "s":
			unit = time.Second
		case "m", "min":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "d":
			unit = 24 * time.Hour
		case "w":
			unit = 7 * 24 * time.Hour
		case "M", "mon":
			unit = 30 * 24 * time.Hour
		case "y":
			unit = 365 * 24 * time.Hour
		default:
			return 0, false
		}
		total += time.Duration(n) * unit
		s = s[k:]
	}
	return total, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// pointInterval is the timeline step of /pyroscope/render for a range: the
// range split into about 1500 points, rounded to a round interval, never
// below 15 seconds.
func pointInterval(fromMs, untilMs int64) time.Duration {
	step := roundInterval(time.Duration(untilMs-fromMs) * time.Millisecond / 1500)
	return max(step, 15*time.Second)
}

// roundInterval rounds to the interval a person would pick, as Grafana
// does: each round value stands for the range up to the midpoint to the
// next one.
func roundInterval(d time.Duration) time.Duration {
	for _, r := range roundIntervals {
		if d <= r.upTo {
			return r.value
		}
	}
	return 365 * 24 * time.Hour
}

var roundIntervals = []struct{ upTo, value time.Duration }{
	{15 * time.Millisecond, 10 * time.Millisecond},
	{35 * time.Millisecond, 20 * time.Millisecond},
	{75 * time.Millisecond, 50 * time.Millisecond},
	{150 * time.Millisecond, 100 * time.Millisecond},
	{350 * time.Millisecond, 200 * time.Millisecond},
	{750 * time.Millisecond, 500 * time.Millisecond},
	{1500 * time.Millisecond, time.Second},
	{3500 * time.Millisecond, 2 * time.Second},
	{7500 * time.Millisecond, 5 * time.Second},
	{12500 * time.Millisecond, 10 * time.Second},
	{17500 * time.Millisecond, 15 * time.Second},
	{25 * time.Second, 20 * time.Second},
	{45 * time.Second, 30 * time.Second},
	{90 * time.Second, time.Minute},
	{210 * time.Second, 2 * time.Minute},
	{450 * time.Second, 5 * time.Minute},
	{750 * time.Second, 10 * time.Minute},
	{1050 * time.Second, 15 * time.Minute},
	{1500 * time.Second, 20 * time.Minute},
	{2700 * time.Second, 30 * time.Minute},
	{5400 * time.Second, time.Hour},
	{9000 * time.Second, 2 * time.Hour},
	{16200 * time.Second, 3 * time.Hour},
	{32400 * time.Second, 6 * time.Hour},
	{24 * time.Hour, 12 * time.Hour},
	{7 * 24 * time.Hour, 24 * time.Hour},
	{21 * 24 * time.Hour, 7 * 24 * time.Hour},
	{42 * 24 * time.Hour, 30 * 24 * time.Hour},
}
