package bucket

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// TestWithSymbolBuffers checks that every block's symbol reader is given
// the Syncer's one Buffers, and loads its partitions through it.
func TestWithSymbolBuffers(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	uploadTree(t, bkt, filepath.Join(testdataRoot(t), "fixtures"))
	bufs := &symdb.Buffers{Max: 2}
	s := NewSyncer(bkt, SyncConfig{}, slog.New(newLogRecorder()), prometheus.NewPedanticRegistry(), WithSymbolBuffers(bufs))
	mustSync(t, s)
	ctx := context.Background()
	blocks := s.AllBlocks("anonymous")
	if len(blocks) == 0 {
		t.Fatal("no blocks")
	}
	for _, b := range blocks {
		if b.symbolBuffers != bufs {
			t.Fatalf("block %s: not given the Syncer's Buffers", b.ID())
		}
		r, err := b.Symbols(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range r.PartitionKeys() {
			if _, err := r.Partition(ctx, key); err != nil {
				t.Fatalf("block %s: partition %d: %v", b.ID(), key, err)
			}
		}
	}
}
