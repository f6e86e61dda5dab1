package querier

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"golang.org/x/sync/errgroup"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/selector"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// blockSeries are the series of one block that a query selected.
type blockSeries struct {
	// indexes are their SeriesIndex values, ascending.
	indexes []uint32
	// fingerprints and labels are indexed like indexes; labels only when
	// asked for.
	fingerprints []uint64
	labels       []blockreader.Labels
}

// position returns where seriesIndex is in indexes.
func (s *blockSeries) position(seriesIndex uint32) (int, bool) {
	return slices.BinarySearch(s.indexes, seriesIndex)
}

func selectBlockSeries(b *bucket.Block, ms []*labels.Matcher, withLabels bool) (*blockSeries, error) {
	refs, err := selector.SelectSeries(b.Index, ms)
	if err != nil {
		return nil, err
	}
	type entry struct {
		index       uint32
		fingerprint uint64
		labels      blockreader.Labels
	}
	entries := make([]entry, 0, len(refs))
	var s blockreader.Series
	for _, ref := range refs {
		if err := b.Index.Series(ref, &s); err != nil {
			return nil, err
		}
		e := entry{index: s.SeriesIndex, fingerprint: s.Fingerprint}
		if withLabels {
			e.labels = slices.Clone(s.Labels)
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.index, b.index) })
	out := &blockSeries{
		indexes:      make([]uint32, len(entries)),
		fingerprints: make([]uint64, len(entries)),
	}
	if withLabels {
		out.labels = make([]blockreader.Labels, len(entries))
	}
	for i, e := range entries {
		out.indexes[i], out.fingerprints[i] = e.index, e.fingerprint
		if withLabels {
			out.labels[i] = e.labels
		}
	}
	return out, nil
}

// rowVisitor receives the selected profiles of one block. series is the
// position of the row's series in blockSeries.
type rowVisitor func(row *blockreader.ProfileRow, series int) error

// scanOptions say what a scan reads.
type scanOptions struct {
	columns blockreader.ProfileColumns
	// withLabels decodes the label sets of the selected series.
	withLabels bool
	// scanned, if set, is called with a block's position in the plan once
	// every row of the block has been visited without error. Blocks may
	// finish in any order, and on any goroutine.
	scanned func(i int)
	// begin, if set, is called before block i is read, in plan order and on
	// one goroutine, and may wait: the scan stops with its error.
	begin func(ctx context.Context, i int) error
}

func (o scanOptions) blockScanned(i int) {
	if o.scanned != nil {
		o.scanned(i)
	}
}

// forEachProfile scans the profiles that q selects in the planned blocks.
// newVisitor is called once per block (i is the block's position in the
// plan) and returns the visitor of its rows. Blocks are read concurrently,
// except that when profiles may repeat across blocks every block is read in
// order and a profile seen before — same series fingerprint, same
// timestamp — is skipped.
func (s *Service) forEachProfile(ctx context.Context, plan blockPlan, q selectQuery, opts scanOptions,
	newVisitor func(i int, b *bucket.Block, series *blockSeries) rowVisitor) error {
	if plan.needsDedup() {
		seen := map[profileKey]struct{}{}
		for i := range plan.blocks {
			if opts.begin != nil {
				if err := opts.begin(ctx, i); err != nil {
					return err
				}
			}
			if err := s.scanBlock(ctx, plan.blocks[i], q, opts, seen, func(b *bucket.Block, series *blockSeries) rowVisitor {
				return newVisitor(i, b, series)
			}); err != nil {
				return err
			}
			opts.blockScanned(i)
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.parallelism())
	for i := range plan.blocks {
		if opts.begin != nil {
			if err := opts.begin(gctx, i); err != nil {
				g.Go(func() error { return err })
				break
			}
		}
		g.Go(func() error {
			err := s.scanBlock(gctx, plan.blocks[i], q, opts, nil, func(b *bucket.Block, series *blockSeries) rowVisitor {
				return newVisitor(i, b, series)
			})
			if err != nil {
				return err
			}
			opts.blockScanned(i)
			return nil
		})
	}
	return g.Wait()
}

// scanBlock scans the profiles that q selects in block b. newVisitor is
// called once, when the block has any selected series, and returns the
// visitor of its rows. With seen, a profile already in seen is skipped and
// every other one is added to it.
func (s *Service) scanBlock(ctx context.Context, b *bucket.Block, q selectQuery, opts scanOptions, seen map[profileKey]struct{},
	newVisitor func(b *bucket.Block, series *blockSeries) rowVisitor) error {
	if q.profileIDs != nil {
		opts.columns |= blockreader.ColumnID
	}
	if q.spanIDs != nil {
		opts.columns |= blockreader.ColumnSpanIDs
	}
	series, err := selectBlockSeries(b, q.matchers, opts.withLabels)
	if err != nil {
		return fmt.Errorf("block %s: index.tsdb: %w", b.Meta.ULID, err)
	}
	if len(series.indexes) == 0 {
		return nil
	}
	profiles, err := b.Profiles(ctx)
	if err != nil {
		return err
	}
	visit := newVisitor(b, series)
	var spans spanFilter
	sel := blockreader.ProfileSelection{
		SeriesIndexes: series.indexes,
		StartNanos:    q.start * 1e6,
		EndNanos:      q.end * 1e6,
	}
	err = profiles.ScanWith(ctx, &s.scans, sel, opts.columns, func(row *blockreader.ProfileRow) error {
		pos, ok := series.position(row.SeriesIndex)
		if !ok {
			return nil
		}
		if q.profileIDs != nil {
			if _, ok := q.profileIDs[row.ID]; !ok {
				return nil
			}
		}
		if q.spanIDs != nil && !spans.keep(row, q.spanIDs) {
			return nil
		}
		if seen != nil {
			k := profileKey{series.fingerprints[pos], row.TimeNanos}
			if _, dup := seen[k]; dup {
				return nil
			}
			seen[k] = struct{}{}
		}
		return visit(row, pos)
	})
	if err != nil {
		return fmt.Errorf("block %s: %w", b.Meta.ULID, err)
	}
	return nil
}

// profileKey identifies a profile across replicated blocks.
type profileKey struct {
	fingerprint uint64
	timeNanos   int64
}

// stackValues sums the sample values of one block's profiles per stack-trace
// node of each partition, so every distinct stack is resolved once, later,
// by whoever turns the sums into a tree or a profile.
type stackValues struct {
	ctx     context.Context
	sums    *sumArrays // lends the per-partition arrays; nil allocates
	block   *bucket.Block
	symbols *symdb.Reader
	parts   map[uint64]*partitionValues
	last    *partitionValues
	// loaded, when set, is called with each partition the first time a
	// row of the block refers to it.
	loaded func(*symdb.Partition)
}

// partitionValues are the summed values of one partition. Samples sit on
// the leaves of the stack tree (on the bench bucket, every one of them),
// and leaves are about an eighth of the nodes, so values are summed per
// leaf, in node order; an inner node's values go to a per-node array made
// for the first of them. Consumers get per-node values from nodeSums.
type partitionValues struct {
	part   *symdb.Partition
	leaves *symdb.LeafIndex
	leaf   []int64 // per leaf; allocated by the first add
	inner  []int64 // per node; nil until an inner node has a value
}

func newStackValues(ctx context.Context, b *bucket.Block, sums *sumArrays) *stackValues {
	return &stackValues{ctx: ctx, block: b, sums: sums, parts: map[uint64]*partitionValues{}}
}

// sumArrays lends the arrays of stackValues and nodeSums from one query
// to the next. It keeps up to maxBytes of them whatever the garbage
// collector does (see freeList), and lends the smallest that fits, so that
// partitions of every size find theirs. The zero value keeps nothing.
type sumArrays struct {
	mu       sync.Mutex
	free     [][]int64
	bytes    int64 // held in free
	maxBytes int64
	lent     int64 // in arrays given out by get and not put back
}

// defaultMaxSumBytes bounds the sum arrays a service keeps: the bench
// bucket's all-CPU queries use about 4 MB at a time.
const defaultMaxSumBytes = 64 << 20

// get returns a zeroed array of n sums.
func (p *sumArrays) get(n int) []int64 {
	if p != nil {
		p.mu.Lock()
		best := -1
		for i, a := range p.free {
			if cap(a) >= n && (best < 0 || cap(a) < cap(p.free[best])) {
				best = i
			}
		}
		if best >= 0 {
			a := p.free[best]
			last := len(p.free) - 1
			p.free[best], p.free[last] = p.free[last], nil
			p.free = p.free[:last]
			p.bytes -= 8 * int64(cap(a))
			p.lent += 8 * int64(cap(a))
			p.mu.Unlock()
			s := a[:n]
			clear(s)
			return s
		}
		p.lent += 8 * int64(n)
		p.mu.Unlock()
	}
	return make([]int64, n)
}

// lentBytes is the size of the arrays lent and not yet handed back.
func (p *sumArrays) lentBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lent
}

// put keeps s for a later get unless that would hold more than maxBytes.
func (p *sumArrays) put(s []int64) {
	if p == nil || cap(s) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	size := 8 * int64(cap(s))
	p.lent -= size
	if p.bytes+size <= p.maxBytes {
		p.free = append(p.free, s)
		p.bytes += size
	}
}

// release hands the block's sum arrays back; a must not be used after.
func (a *stackValues) release() {
	for _, pv := range a.parts {
		a.sums.put(pv.leaf)
		a.sums.put(pv.inner)
		pv.leaf, pv.inner = nil, nil
	}
}

// add adds a row's positive sample values to its stacks' nodes.
func (a *stackValues) add(row *blockreader.ProfileRow) error {
	pv, err := a.partition(row.Partition)
	if err != nil {
		return err
	}
	if pv.leaf == nil {
		pv.leaves = pv.part.Leaves()
		pv.leaf = a.sums.get(pv.leaves.Count)
	}
	// IDs 1 ≤ id ≤ lastDirect are their own node (see DirectIDs).
	words, leaf, lastDirect := pv.leaves.Words, pv.leaf, max(pv.part.DirectIDs(), 1)-1
	values := row.Values[:len(row.StacktraceIDs)]
	for i, id := range row.StacktraceIDs {
		v := values[i]
		if v <= 0 {
			continue
		}
		node := int32(id)
		if id-1 >= lastDirect {
			if node, err = stackNode(pv.part, id); err != nil {
				return err
			}
			if node < 0 {
				continue
			}
		}
		w := words[node>>6]
		bit := uint64(1) << (node & 63)
		if w.Bits&bit != 0 {
			leaf[w.Rank+uint32(bits.OnesCount64(w.Bits&(bit-1)))] += v
			continue
		}
		if pv.inner == nil {
			pv.inner = a.sums.get(pv.part.Tree.Len())
		}
		pv.inner[node] += v
	}
	return nil
}

// nodeSums lends one per-node array of a partition's values at a time,
// filled from its sums per leaf, and zero again once the caller is done.
type nodeSums struct {
	sums *sumArrays
	buf  []int64 // all zero between uses
}

// nodeSumsStep is what nodeSums rounds its array's length up to.
const nodeSumsStep = 16 << 10

// fill returns the values of pv per node of its partition, valid until
// done(pv). The caller may zero any of them.
func (n *nodeSums) fill(pv *partitionValues) []int64 {
	size := pv.part.Tree.Len()
	if cap(n.buf) < size {
		n.sums.put(n.buf)
		// Rounded up, so that partitions of nearly equal sizes (a service's
		// in successive blocks) share one array.
		n.buf = n.sums.get((size + nodeSumsStep - 1) / nodeSumsStep * nodeSumsStep)
	}
	self := n.buf[:size]
	if pv.inner != nil {
		copy(self, pv.inner)
	}
	if pv.leaf != nil {
		for k, node := range pv.leaves.All() {
			self[node] += pv.leaf[k]
		}
	}
	return self
}

// done zeroes the array that fill(pv) returned.
func (n *nodeSums) done(pv *partitionValues) {
	self := n.buf[:pv.part.Tree.Len()]
	if pv.inner != nil || pv.leaf == nil {
		clear(self)
		return
	}
	for _, node := range pv.leaves.All() {
		self[node] = 0
	}
}

// release hands the array back; n may be used again.
func (n *nodeSums) release() {
	n.sums.put(n.buf)
	n.buf = nil
}

func (a *stackValues) partition(key uint64) (*partitionValues, error) {
	if a.last != nil && a.last.part.Key == key {
		return a.last, nil
	}
	pv, ok := a.parts[key]
	if !ok {
		if a.symbols == nil {
			syms, err := a.block.Symbols(a.ctx)
			if err != nil {
				return nil, err
			}
			a.symbols = syms
		}
		part, err := a.symbols.Partition(a.ctx, key)
		if err != nil {
			return nil, err
		}
		if a.loaded != nil {
			a.loaded(part)
		}
		pv = &partitionValues{part: part}
		a.parts[key] = pv
	}
	a.last = pv
	return pv, nil
}

// sorted returns the partitions in key order, for deterministic output.
func (a *stackValues) sorted() []*partitionValues {
	out := make([]*partitionValues, 0, len(a.parts))
	for _, pv := range a.parts {
		out = append(out, pv)
	}
	slices.SortFunc(out, func(x, y *partitionValues) int { return cmp.Compare(x.part.Key, y.part.Key) })
	return out
}

// parallelism is how many blocks are worked on at once.
func (s *Service) parallelism() int { return runtime.GOMAXPROCS(0) }

func wrapBlock(b *bucket.Block, err error) error {
	return fmt.Errorf("block %s: %w", b.Meta.ULID, err)
}

// spanFilter narrows a row's samples to those of selected spans, in
// buffers of its own: the row's slices belong to the reader.
type spanFilter struct {
	ids    []uint64
	values []int64
}

// keep filters row's samples and reports whether any is left. Files without
// span IDs have none.
func (f *spanFilter) keep(row *blockreader.ProfileRow, spans map[uint64]struct{}) bool {
	f.ids, f.values = f.ids[:0], f.values[:0]
	if len(row.SpanIDs) != len(row.StacktraceIDs) {
		return false
	}
	for i, span := range row.SpanIDs {
		if _, ok := spans[span]; ok {
			f.ids = append(f.ids, row.StacktraceIDs[i])
			f.values = append(f.values, row.Values[i])
		}
	}
	row.StacktraceIDs, row.Values = f.ids, f.values
	return len(f.ids) > 0
}

// stackNode returns the leaf node of a sample's stack trace, -1 for the
// empty stack, or an error naming the partition and the ID.
func stackNode(p *symdb.Partition, id uint64) (int32, error) {
	node, err := p.NodeOf(id)
	if err != nil {
		return 0, fmt.Errorf("partition %d: stack trace %d: %w", p.Key, id, err)
	}
	return node, nil
}
