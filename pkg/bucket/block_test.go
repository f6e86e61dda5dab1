package bucket

import (
	"math"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

func synthBlock(tenant string, id string, minT, maxT int64) *Block {
	return &Block{
		Tenant: tenant,
		Meta:   &blockreader.Meta{ULID: ulid.MustParse(id), MinTime: blockreader.Time(minT), MaxTime: blockreader.Time(maxT), Version: 3},
	}
}

func TestSnapshotOverlapping(t *testing.T) {
	const (
		a = "01AAAAAAAAAAAAAAAAAAAAAAAA"
		b = "01BBBBBBBBBBBBBBBBBBBBBBBB"
		c = "01CCCCCCCCCCCCCCCCCCCCCCCC"
		d = "01DDDDDDDDDDDDDDDDDDDDDDDD"
		e = "01EEEEEEEEEEEEEEEEEEEEEEEE"
	)
	// Insertion order is scrambled; the snapshot sorts.
	snap := newSnapshot([]*Block{
		synthBlock("t", d, 100, 200),
		synthBlock("t", b, 0, 1000), // long block starting first
		synthBlock("t", c, 100, 150),
		synthBlock("t", a, 100, 100), // same MinTime as c and d: ULID decides
		synthBlock("u", e, 0, 1000),
	})
	if got := snap.tenants; len(got) != 2 || got[0] != "t" || got[1] != "u" {
		t.Fatalf("tenants %v", got)
	}
	for _, tc := range []struct {
		name       string
		start, end int64
		want       []string
	}{
		{"all", math.MinInt64, math.MaxInt64, []string{b, a, c, d}},
		{"instant at shared MinTime", 100, 100, []string{b, a, c, d}},
		{"start == MaxTime of c", 150, 160, []string{b, c, d}},
		{"start == MaxTime+1 of c", 151, 160, []string{b, d}},
		{"after d", 201, 999, []string{b}},
		{"end == MinTime", 50, 100, []string{b, a, c, d}},
		{"end just before MinTime", 50, 99, []string{b}},
		{"start == end == MaxTime of b", 1000, 1000, []string{b}},
		{"after everything", 1001, math.MaxInt64, nil},
		{"negative times", math.MinInt64, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			equalIDs(t, "overlapping", snap.overlapping("t", tc.start, tc.end), tc.want)
		})
	}
	if got := snap.overlapping("v", math.MinInt64, math.MaxInt64); got != nil {
		t.Errorf("unknown tenant: %v", blockIDs(got))
	}
}

func TestBlockDir(t *testing.T) {
	b := synthBlock("tenant-1", fixtureV1, 0, 0)
	if got := b.Dir(); got != "tenant-1/phlaredb/"+fixtureV1 {
		t.Errorf("Dir() = %q", got)
	}
	if b.ID().String() != fixtureV1 {
		t.Errorf("ID() = %s", b.ID())
	}
}
