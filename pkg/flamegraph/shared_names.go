package flamegraph

import (
	"sync"
	"weak"

	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// NameTrees hands out the name trees that partitions with the same key
// (symdb.Partition.Key: the same service, in the blocks of one hour after
// another) share. Consecutive blocks of a service run the same binary, so
// their partitions make nearly the same name tree: on the bench bucket the
// four blocks of a service make 4×140k name nodes, of which 141k differ.
// A shared tree holds those once, and each partition only the name node
// of each of its leaves.
//
// A key has one current tree, which new partitions join until one would
// make it too large (see maxNameTreeGrowth) and starts the next; the
// members of the earlier trees keep theirs. The NameTrees holds its trees
// weakly: a tree lives as long as a partition that uses it does, so it
// goes once every member has left the partition cache.
//
// Trees are shared by key alone, whoever the partitions belong to: a Tree
// gets only the name nodes on which the partitions it adds have values
// (see addPartition), so the nodes other partitions added to a shared tree
// never show in it.
//
// The zero value is ready to use. A NameTrees is safe for concurrent use.
type NameTrees struct {
	// scratch lends the walks of Prepare their scratch, one per goroutine
	// that prepares at a time.
	scratch sync.Pool // of *nameTreeScratch
	mu      sync.Mutex
	current map[uint64]weak.Pointer[nameTree]
	// sweepAt is the number of keys at which the keys whose tree is gone
	// are dropped.
	sweepAt int
}

// NewNameTrees returns an empty set of shared name trees.
func NewNameTrees() *NameTrees { return &NameTrees{} }

// ShareNames has t keep the name trees of the partitions it adds in trees
// shared through r, by the partitions of other blocks and the other trees
// that share r; nil gives each partition a tree of its own. The first Tree
// that adds a partition decides where its name tree is kept.
func (t *Tree) ShareNames(r *NameTrees) {
	t.nameTrees = r
}

// Prepare adds p to the shared name tree of its key now, unless it is in
// one already, so that the Trees that add p later find its names made. A
// caller that has just loaded p calls it while the partition's stack tree,
// freshly decoded, is still in the processor's cache: a first query over
// the bench bucket that prepared each partition on the goroutine that
// loaded it walked them 3-10% faster, and took 3-4% less time, than one
// that left the walks to its merges. It is safe for concurrent use.
func (r *NameTrees) Prepare(p *symdb.Partition) {
	sc, _ := r.scratch.Get().(*nameTreeScratch)
	if sc == nil {
		sc = new(nameTreeScratch)
	}
	partitionNameTree(p, r, sc)
	r.scratch.Put(sc)
}

// add adds the stacks of p to the current tree of its key, or to a new one
// when that one has no room (see nameTree.add), and returns what p keeps.
func (r *NameTrees) add(p *symdb.Partition, leaves *symdb.LeafIndex, sc *nameTreeScratch) *partitionNames {
	var full *nameTree
	for {
		nt := r.tree(p.Key, full)
		if pn := nt.add(p, leaves, sc); pn != nil {
			return pn
		}
		full = nt
	}
}

// tree returns the current tree of key, or a new one when there is none
// or when the current one is full, the tree a partition found no room in.
// A new tree has room for any partition.
func (r *NameTrees) tree(key uint64, full *nameTree) *nameTree {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Another partition may have started the next tree since this one
	// found full.
	if nt := r.current[key].Value(); nt != nil && nt != full {
		return nt
	}
	if r.current == nil {
		r.current = make(map[uint64]weak.Pointer[nameTree])
	}
	if len(r.current) >= r.sweepAt {
		for k, w := range r.current {
			if w.Value() == nil {
				delete(r.current, k)
			}
		}
		r.sweepAt = max(2*len(r.current), 64)
	}
	nt := newNameTree(true)
	r.current[key] = weak.Make(nt)
	return nt
}
