package memlimit

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	cfg := Config{HeadroomPercent: 25, MinHeadroomBytes: 64 << 20}
	for _, tc := range []struct {
		live, want int64
	}{
		{0, 64 << 20},                       // the minimum headroom
		{100 << 20, 164 << 20},              // 25 MiB is below the minimum
		{1 << 30, 1<<30 + 256<<20},          // 25% of a large heap
		{math.MaxInt64 - 10, math.MaxInt64}, // no overflow
	} {
		if got := Limit(cfg, tc.live); got != tc.want {
			t.Errorf("Limit(live %d) = %d, want %d", tc.live, got, tc.want)
		}
	}

	cfg.MinHeapBytes = 256 << 20
	for _, tc := range []struct {
		live, want int64
	}{
		{0, 256 << 20},             // the minimum heap
		{150 << 20, 256 << 20},     // live and headroom below the minimum heap
		{200 << 20, 264 << 20},     // above it
		{1 << 30, 1<<30 + 256<<20}, // 25% of a large heap
	} {
		if got := Limit(cfg, tc.live); got != tc.want {
			t.Errorf("with a minimum heap of 256 MiB, Limit(live %d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	if err := (&Config{HeadroomPercent: -1}).Validate(); err == nil {
		t.Error("a negative headroom percent was accepted")
	}
	if err := (&Config{MinHeadroomBytes: -1}).Validate(); err == nil {
		t.Error("a negative minimum headroom was accepted")
	}
	if err := (&Config{MinHeapBytes: -1}).Validate(); err == nil {
		t.Error("a negative minimum heap was accepted")
	}
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	if (&Config{}).Enabled() {
		t.Error("enabled with a headroom of 0%")
	}
	if !(&Config{HeadroomPercent: 25}).Enabled() {
		t.Error("not enabled with a headroom of 25% and no GOGC or GOMEMLIMIT")
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	if (&Config{HeadroomPercent: 25}).Enabled() {
		t.Error("enabled although GOMEMLIMIT is set")
	}
	os.Unsetenv("GOMEMLIMIT")
	t.Setenv("GOGC", "50")
	if (&Config{HeadroomPercent: 25}).Enabled() {
		t.Error("enabled although GOGC is set")
	}
}

// The tuner follows the live heap from one collection to the next, with
// GOGC's pacing off, and gives the limit and GOGC back when stopped.
func TestTunerFollowsLiveHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	percent := debug.SetGCPercent(70)
	defer debug.SetGCPercent(percent)
	cfg := Config{HeadroomPercent: 50, MinHeadroomBytes: 8 << 20}
	tuner := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GOGC = %d while the tuner runs, want off (-1)", got)
	}

	// waitLimit collects until the limit lies in [lo, hi]: the tuner runs
	// just after a collection, on the runtime's cleanup goroutine.
	waitLimit := func(lo, hi int64) int64 {
		t.Helper()
		var got int64
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
			if got = debug.SetMemoryLimit(-1); got >= lo && got <= hi {
				return got
			}
		}
		t.Fatalf("limit %d MiB, want within [%d, %d] MiB", got>>20, lo>>20, hi>>20)
		return 0
	}

	// 256 MiB kept live: the limit must cover it and half of it again,
	// and leave room for no more than the test binary's own heap.
	const big = 256 << 20
	kept := make([]byte, big)
	for i := range kept {
		kept[i] = 1
	}
	waitLimit(big*3/2, big*3/2+64<<20)
	runtime.KeepAlive(kept)
	kept = nil

	// Once it is garbage, the limit falls back towards the minimum.
	waitLimit(8<<20, 64<<20)

	tuner.Stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after Stop = %d, want %d as before Start", got, before)
	}
	if got := debug.SetGCPercent(70); got != 70 {
		t.Errorf("GOGC after Stop = %d, want 70 as before Start", got)
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit changed to %d after Stop", got)
	}
}
