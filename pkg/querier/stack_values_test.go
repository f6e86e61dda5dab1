package querier

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// TestStackValuesAddMatchesNodeOf checks stackValues.add against sums made
// with NodeOf one sample at a time, over every partition of the fixture
// blocks and IDs of every kind: real stacks, roots, empty stacks past a
// chunk's end, and IDs past the last chunk.
func TestStackValuesAddMatchesNodeOf(t *testing.T) {
	ctx := context.Background()
	for _, b := range fixtureBlocks(t, DefaultTenant) {
		syms, err := b.Symbols(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range syms.PartitionKeys() {
			part, err := syms.Partition(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("%s/%d", b.Meta.ULID, key), func(t *testing.T) {
				limit := 2*uint64(len(part.Parents)) + 5
				var ids []uint64
				var values []int64
				for id := range limit {
					ids = append(ids, id)
					values = append(values, int64(id%7)-1) // some <= 0
				}
				ids = append(ids, 1, math.MaxUint64)
				values = append(values, 3, -1)

				// Sums over the IDs NodeOf resolves, then the error of the
				// first one it does not.
				want := make([]int64, len(part.Parents))
				var good, bad []uint64
				var gv []int64
				for i, id := range ids {
					node, err := part.NodeOf(id)
					if err != nil {
						bad = append(bad, id)
						continue
					}
					good, gv = append(good, id), append(gv, values[i])
					if node >= 0 && values[i] > 0 {
						want[node] += values[i]
					}
				}
				a := newStackValues(ctx, b, nil)
				a.symbols = syms
				if err := a.add(&blockreader.ProfileRow{Partition: key, StacktraceIDs: good, Values: gv}); err != nil {
					t.Fatal(err)
				}
				if got := a.parts[key].self; !slices.Equal(got, want) {
					t.Fatalf("sums differ from NodeOf's")
				}
				if len(bad) == 0 {
					t.Fatalf("no out-of-range IDs tried")
				}
				// A bad ID with a value <= 0 is skipped.
				if err := a.add(&blockreader.ProfileRow{Partition: key, StacktraceIDs: bad[:1], Values: []int64{0}}); err != nil {
					t.Fatalf("ID %d with value 0: %v", bad[0], err)
				}
				_, nodeErr := part.NodeOf(bad[0])
				wantErr := fmt.Errorf("partition %d: stack trace %d: %w", key, bad[0], nodeErr)
				err := a.add(&blockreader.ProfileRow{Partition: key, StacktraceIDs: bad[:1], Values: []int64{1}})
				if !errors.Is(err, symdb.ErrStacktraceOutOfRange) || err.Error() != wantErr.Error() {
					t.Fatalf("add: %v, want %v", err, wantErr)
				}
			})
		}
	}
}
