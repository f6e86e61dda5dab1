package querier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

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
				limit := 2*uint64(part.Tree.Len()) + 5
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
				want := make([]int64, part.Tree.Len())
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
				var nodes nodeSums
				if got := nodes.fill(a.parts[key]); !slices.Equal(got, want) {
					t.Fatalf("sums differ from NodeOf's")
				}
				nodes.done(a.parts[key])
				if slices.ContainsFunc(nodes.buf, func(v int64) bool { return v != 0 }) {
					t.Fatalf("per-node values not zero again after done")
				}
				if len(bad) == 0 {
					t.Fatalf("no out-of-range IDs tried")
				}

				// Samples on leaves only, as in most profiles: the per-node
				// values are zeroed leaf by leaf.
				hasChild := make([]bool, part.Tree.Len())
				for _, par := range part.Tree.AppendParents(nil) {
					if par >= 0 {
						hasChild[par] = true
					}
				}
				clear(want)
				var leafIDs []uint64
				var leafValues []int64
				for i, id := range good {
					node, _ := part.NodeOf(id)
					if node >= 0 && !hasChild[node] && gv[i] > 0 {
						leafIDs, leafValues = append(leafIDs, id), append(leafValues, gv[i])
						want[node] += gv[i]
					}
				}
				leafOnly := newStackValues(ctx, b, nil)
				leafOnly.symbols = syms
				if err := leafOnly.add(&blockreader.ProfileRow{Partition: key, StacktraceIDs: leafIDs, Values: leafValues}); err != nil {
					t.Fatal(err)
				}
				if leafOnly.parts[key].inner != nil {
					t.Errorf("samples on leaves only made a per-node array")
				}
				if got := nodes.fill(leafOnly.parts[key]); !slices.Equal(got, want) {
					t.Fatalf("leaf sums differ from NodeOf's")
				}
				nodes.done(leafOnly.parts[key])
				if slices.ContainsFunc(nodes.buf, func(v int64) bool { return v != 0 }) {
					t.Fatalf("per-node values not zero again after done, leaves only")
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

// TestStreamStackValuesReadsAheadBounded checks that a slow consumer of the
// streamed block sums does not let the scan read every block ahead of it:
// with one core, only the block being used holds sums.
func TestStreamStackValuesReadsAheadBounded(t *testing.T) {
	blocks := loadBlocks(t, "medium", DefaultTenant)
	if len(blocks) < 2 {
		t.Skip("needs two blocks or more")
	}
	svc := New(Config{MaxSeriesPoints: 1e6}, staticBlocks{DefaultTenant: blocks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	q, err := svc.parseSelectQuery(cpuType, "{}", mediumStart, mediumEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	err = svc.streamStackValues(context.Background(), DefaultTenant, q, func(v *stackValues) error {
		defer v.release()
		used++
		// Time for a scan that is not held back to read the next blocks.
		time.Sleep(50 * time.Millisecond)
		var own int64
		for _, pv := range v.parts {
			own += 8 * int64(cap(pv.leaf)+cap(pv.inner))
		}
		if lent := svc.sums.lentBytes(); lent != own {
			t.Errorf("block %d: %d bytes of sums lent while it holds %d: the scan read ahead", used, lent, own)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used < 2 {
		t.Fatalf("%d blocks with values, want 2 or more", used)
	}
	if lent := svc.sums.lentBytes(); lent != 0 {
		t.Errorf("%d bytes of sums still lent after the stream", lent)
	}
}
