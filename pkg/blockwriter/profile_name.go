package blockwriter

import (
	"strings"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// GuessProfileName returns the __name__ Pyroscope's agents would push a
// profile with, judged from its sample and period types: process_cpu,
// memory, goroutine, mutex, block or wall. It reports false when it cannot
// tell. Mutex and block profiles share their sample types; they are told
// apart by the period type only when it says so, and default to mutex.
func GuessProfileName(p *googlev1.Profile) (string, bool) {
	str := func(i int64) string {
		if i < 0 || i >= int64(len(p.GetStringTable())) {
			return ""
		}
		return strings.ToLower(p.StringTable[i])
	}
	for _, st := range p.GetSampleType() {
		switch t := str(st.GetType()); {
		case t == "wall":
			return "wall", true
		case t == "cpu":
			return "process_cpu", true
		case strings.HasPrefix(t, "alloc_") || strings.HasPrefix(t, "inuse_"):
			return "memory", true
		case t == "goroutine" || t == "goroutines":
			return "goroutine", true
		case t == "contentions" || t == "delay":
			if strings.Contains(str(p.GetPeriodType().GetType()), "block") {
				return "block", true
			}
			return "mutex", true
		}
	}
	switch str(p.GetPeriodType().GetType()) {
	case "cpu":
		return "process_cpu", true
	case "wall":
		return "wall", true
	case "space":
		return "memory", true
	}
	for _, st := range p.GetSampleType() {
		if t := str(st.GetType()); t == "samples" || t == "sample" {
			return "process_cpu", true
		}
	}
	return "", false
}
