package querier

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
)

// mergeWork deals the work of a flame-graph merge to the cores: reading
// blocks, and adding each partition of a block read to a tree. A core
// that has read a block does not add all its partitions itself; every
// core takes partitions before it reads another block. So the last block
// of a query is added on all cores instead of one, and at most about one
// block per core holds its sums at a time.
//
// Each core adds to trees of its own, one per sub-range of the query.
// Which core's tree a partition goes to changes nothing in the answer:
// trees merge by name, and layouts order children by name.
type mergeWork struct {
	mu   sync.Mutex
	cond sync.Cond
	// reads are the blocks to read, taken in order from next on.
	reads []blockRead
	next  int
	// reading counts the reads taken and not finished: they may still
	// queue partitions.
	reading int
	adds    []partitionAdd
	err     error
}

// blockRead is block i of the plan of sub-range r.
type blockRead struct {
	r, i int
	// whole reads every block of the sub-range in order, for plans whose
	// blocks may repeat profiles (see blockPlan.needsDedup).
	whole bool
}

// partitionAdd is one partition of a block read, to add to sub-range r.
type partitionAdd struct {
	r     int
	block *readBlock
	pv    *partitionValues
}

// readBlock is a block's sums, handed back once each of its partitions is
// added.
type readBlock struct {
	values *stackValues
	left   atomic.Int32
}

func (b *readBlock) added() {
	if b.left.Add(-1) == 0 {
		b.values.release()
	}
}

func newMergeWork(reads []blockRead) *mergeWork {
	w := &mergeWork{reads: reads}
	w.cond.L = &w.mu
	return w
}

// take returns the next piece of work: a partition to add when there is
// one, else a block to read. It waits while blocks being read may still
// queue partitions, and reports false once all is done or failed.
func (w *mergeWork) take() (add partitionAdd, read blockRead, isAdd, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil {
		if n := len(w.adds); n > 0 {
			add = w.adds[0]
			w.adds[0] = partitionAdd{}
			w.adds = w.adds[1:]
			return add, read, true, true
		}
		if w.next < len(w.reads) {
			read = w.reads[w.next]
			w.next++
			w.reading++
			return add, read, false, true
		}
		if w.reading == 0 {
			return add, read, false, false
		}
		w.cond.Wait()
	}
	return add, read, false, false
}

// read ends a block read, queueing the partitions of v (nil when the block
// had no selected profile).
func (w *mergeWork) read(r int, v *stackValues) {
	var parts []*partitionValues
	if v != nil {
		parts = v.sorted()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reading--
	if len(parts) > 0 {
		b := &readBlock{values: v}
		b.left.Store(int32(len(parts)))
		for _, pv := range parts {
			w.adds = append(w.adds, partitionAdd{r: r, block: b, pv: pv})
		}
	} else if v != nil {
		v.release()
	}
	w.cond.Broadcast()
}

// fail stops the work at its first error.
func (w *mergeWork) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	w.cond.Broadcast()
}

// drop hands back the sums of partitions left unadded after a failure.
func (w *mergeWork) drop() {
	w.mu.Lock()
	adds := w.adds
	w.adds = nil
	w.mu.Unlock()
	for _, a := range adds {
		a.block.added()
	}
}

// mergeRanges merges the stacks that q selects in each sub-range into a
// tree per sub-range, truncated the way Pyroscope's store-gateway and
// querier truncate it: every partition of every block on its own (not for
// span profiles, whose partitions Pyroscope resolves without a budget),
// then the merged tree, twice (store and querier).
func (s *Service) mergeRanges(ctx context.Context, tenant string, q selectQuery, ranges [][2]int64, maxNodes int64) ([]*flamegraph.Tree, error) {
	merges := make([]blockMerge, len(ranges))
	plans := make([]blockPlan, len(ranges))
	var reads []blockRead
	for r, span := range ranges {
		sub := q
		sub.start, sub.end = span[0], span[1]
		merges[r] = blockMerge{s: s, q: sub, partitionMax: maxNodes}
		if q.spanIDs != nil {
			merges[r].partitionMax = 0
		}
		if sub.empty {
			continue
		}
		plans[r] = planBlocks(s.blocks.Blocks(tenant, sub.start, sub.end))
		if plans[r].needsDedup() {
			reads = append(reads, blockRead{r: r, whole: true})
			continue
		}
		for i := range plans[r].blocks {
			reads = append(reads, blockRead{r: r, i: i})
		}
	}

	work := newMergeWork(reads)
	cores := max(1, min(s.parallelism(), len(reads)))
	trees := make([][]*flamegraph.Tree, cores) // per core, per sub-range
	var wg sync.WaitGroup
	for c := range cores {
		trees[c] = make([]*flamegraph.Tree, len(ranges))
		wg.Go(func() {
			nodes := nodeSums{sums: &s.sums}
			defer nodes.release()
			tree := func(r int) *flamegraph.Tree {
				if trees[c][r] == nil {
					trees[c][r] = s.blockTree()
				}
				return trees[c][r]
			}
			for {
				add, read, isAdd, ok := work.take()
				if !ok {
					return
				}
				var err error
				switch {
				case isAdd:
					err = merges[add.r].addPartition(tree(add.r), add.block.values, add.pv, &nodes)
					add.block.added()
				case read.whole:
					err = merges[read.r].addBlocksInOrder(ctx, tree(read.r), plans[read.r])
					work.read(read.r, nil)
				default:
					var v *stackValues
					v, err = merges[read.r].sum(ctx, plans[read.r].blocks[read.i], nil)
					work.read(read.r, v)
				}
				if err != nil {
					work.fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	work.drop()
	if work.err != nil {
		for _, ts := range trees {
			for _, t := range ts {
				if t != nil {
					s.releaseTree(t)
				}
			}
		}
		return nil, work.err
	}

	// Each sub-range's trees are merged and truncated on a core of its own.
	out := make([]*flamegraph.Tree, len(ranges))
	for r := range ranges {
		wg.Go(func() {
			var ts []*flamegraph.Tree
			for c := range trees {
				if t := trees[c][r]; t != nil {
					ts = append(ts, t)
				}
			}
			if len(ts) == 0 {
				out[r] = s.blockTree()
				return
			}
			out[r] = s.truncate(s.truncate(s.mergeInto(ts), maxNodes), maxNodes)
		})
	}
	wg.Wait()
	return out, nil
}
