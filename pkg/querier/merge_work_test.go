package querier

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/cinder-profiling/cinder/pkg/symdb"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

// testBlockValues returns sums of a block with partitions keyed 1 to n,
// each holding one lent array.
func testBlockValues(sums *sumArrays, n int) *stackValues {
	v := &stackValues{sums: sums, parts: map[uint64]*partitionValues{}}
	for k := 1; k <= n; k++ {
		v.parts[uint64(k)] = &partitionValues{part: &symdb.Partition{Key: uint64(k)}, leaf: sums.get(16)}
	}
	return v
}

// TestMergeWorkSharesPartitions checks that the partitions of a block read
// on one core are handed to a core that waits for work, and that the
// block's sums go back once its last partition is added.
func TestMergeWorkSharesPartitions(t *testing.T) {
	w := newMergeWork([]blockRead{{r: 0, i: 0}})
	_, read, isAdd, ok := w.take()
	if !ok || isAdd || read.i != 0 {
		t.Fatalf("first take = %+v add %v ok %v, want the block read", read, isAdd, ok)
	}

	// The other core has no block left to read: it must wait for the
	// partitions of the block being read, not stop.
	got := make(chan partitionAdd)
	go func() {
		add, _, isAdd, ok := w.take()
		if !ok || !isAdd {
			close(got)
			return
		}
		got <- add
	}()
	select {
	case <-got:
		t.Fatal("a core stopped or got work while the only block was still being read")
	case <-time.After(20 * time.Millisecond):
	}

	sums := &sumArrays{maxBytes: 1 << 20}
	w.read(0, testBlockValues(sums, 3))
	add, ok := <-got
	if !ok {
		t.Fatal("the waiting core stopped instead of taking a partition")
	}
	if add.pv.part.Key != 1 {
		t.Errorf("waiting core got partition %d, want 1 (partitions go in key order)", add.pv.part.Key)
	}
	add.block.added()
	for _, want := range []uint64{2, 3} {
		add, _, isAdd, ok := w.take()
		if !ok || !isAdd || add.pv.part.Key != want {
			t.Fatalf("take = partition %v (add %v, ok %v), want partition %d", add.pv, isAdd, ok, want)
		}
		if sums.lentBytes() == 0 {
			t.Fatalf("sums handed back before partition %d was added", want)
		}
		add.block.added()
	}
	if n := sums.lentBytes(); n != 0 {
		t.Errorf("%d bytes of sums still lent after every partition was added", n)
	}
	if _, _, _, ok := w.take(); ok {
		t.Error("take reported work after everything was done")
	}
}

// TestMergeWorkFailureHandsBackSums checks that partitions left unadded
// when the merge fails give their sums back.
func TestMergeWorkFailureHandsBackSums(t *testing.T) {
	sums := &sumArrays{maxBytes: 1 << 20}
	w := newMergeWork([]blockRead{{i: 0}, {i: 1}})
	w.take()
	w.read(0, testBlockValues(sums, 4))
	add, _, _, _ := w.take()
	w.fail(errors.New("boom"))
	add.block.added()
	if _, _, _, ok := w.take(); ok {
		t.Error("take reported work after a failure")
	}
	w.drop()
	if n := sums.lentBytes(); n != 0 {
		t.Errorf("%d bytes of sums still lent after the failed merge was dropped", n)
	}
}

// TestMergeCanceledHandsBackSums cancels flame-graph merges of the medium
// blocks at different points and checks that every sum array lent to them
// comes back.
func TestMergeCanceledHandsBackSums(t *testing.T) {
	blocks := loadBlocks(t, "medium", DefaultTenant)
	svc := New(Config{MaxSeriesPoints: 1e6}, staticBlocks{DefaultTenant: blocks}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := &querierv1.SelectMergeStacktracesRequest{ProfileTypeID: cpuType, LabelSelector: "{}", Start: mediumStart, End: mediumEnd}
	canceled := 0
	for _, after := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 3 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(WithTenant(context.Background(), DefaultTenant), after)
		_, err := svc.SelectMergeStacktraces(ctx, connect.NewRequest(req))
		cancel()
		if err != nil {
			canceled++
		}
		if n := svc.sums.lentBytes(); n != 0 {
			t.Errorf("canceled after %v (err %v): %d bytes of sums still lent", after, err, n)
		}
	}
	if canceled == 0 {
		t.Error("no merge was canceled: the test checks nothing")
	}
}
