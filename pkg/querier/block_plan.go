package querier

import (
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/cinder-profiling/cinder/pkg/bucket"
)

// compactorShardLabel is the meta.json label a split-sharded compaction puts
// on each of its output blocks, valued "<n>_of_<m>".
const compactorShardLabel = "__compactor_shard_id__"

// blockPlan is the set of blocks a Select* query reads.
type blockPlan struct {
	blocks []*bucket.Block
	// dedup[i] reports whether block i overlaps in time with an earlier
	// block of the plan that may hold copies of its profiles.
	dedup []bool
}

// planBlocks drops blocks whose data another block of the list already
// holds — the sources and parents of compacted blocks (level >= 2), and
// groups of split-sharded blocks that are missing a shard — and marks the
// blocks whose profiles may be duplicated in another block: replicas of
// ingester output (level < 2, or < 3 when sharded blocks exist) that
// overlap in time.
func planBlocks(blocks []*bucket.Block) blockPlan {
	superseded := map[ulid.ULID]struct{}{}
	for _, b := range blocks {
		if b.Meta.Compaction.Level < 2 {
			continue
		}
		for _, s := range b.Meta.Compaction.Sources {
			if s != b.Meta.ULID {
				superseded[s] = struct{}{}
			}
		}
		for _, p := range b.Meta.Compaction.Parents {
			if p.ULID != b.Meta.ULID {
				superseded[p.ULID] = struct{}{}
			}
		}
	}

	type shardGroup struct {
		level   int
		minTime int64
	}
	shardsSeen := map[shardGroup]map[int]struct{}{}
	shardsWanted := map[shardGroup]int{}
	sharded := false
	for _, b := range blocks {
		n, m, ok := parseShardID(b.Meta.Labels[compactorShardLabel])
		if !ok {
			continue
		}
		sharded = true
		g := shardGroup{b.Meta.Compaction.Level, int64(b.Meta.MinTime)}
		if shardsSeen[g] == nil {
			shardsSeen[g] = map[int]struct{}{}
		}
		shardsSeen[g][n] = struct{}{}
		shardsWanted[g] = max(shardsWanted[g], m)
	}

	dedupLevel := 2
	if sharded {
		dedupLevel = 3
	}
	var plan blockPlan
	for _, b := range blocks {
		if _, ok := superseded[b.Meta.ULID]; ok {
			continue
		}
		if _, _, ok := parseShardID(b.Meta.Labels[compactorShardLabel]); ok {
			g := shardGroup{b.Meta.Compaction.Level, int64(b.Meta.MinTime)}
			if len(shardsSeen[g]) < shardsWanted[g] {
				continue
			}
		}
		plan.blocks = append(plan.blocks, b)
	}
	plan.dedup = make([]bool, len(plan.blocks))
	for i, b := range plan.blocks {
		if b.Meta.Compaction.Level >= dedupLevel {
			continue
		}
		for _, o := range plan.blocks[:i] {
			if o.Meta.Compaction.Level < dedupLevel && o.Meta.Overlaps(int64(b.Meta.MinTime), int64(b.Meta.MaxTime)) {
				plan.dedup[i] = true
				break
			}
		}
	}
	return plan
}

// needsDedup reports whether any block of the plan may repeat profiles.
func (p blockPlan) needsDedup() bool {
	for _, d := range p.dedup {
		if d {
			return true
		}
	}
	return false
}

// parseShardID parses "<n>_of_<m>" with 1 <= n <= m.
func parseShardID(s string) (n, m int, ok bool) {
	a, b, found := strings.Cut(s, "_of_")
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || n < 1 || n > m {
		return 0, 0, false
	}
	return n, m, true
}
