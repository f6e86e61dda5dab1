package blockwriter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/thanos-io/objstore"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// DefaultWindow is the time span of one block unless Options.Window says
// otherwise.
const DefaultWindow = time.Hour

// maxRowsPerRowGroup is where profiles.parquet row groups are cut, as in
// Pyroscope (block-format.md §5.5).
const maxRowsPerRowGroup = 100_000

// Options configure a Writer. The zero value is usable.
type Options struct {
	// Window is the time span of one block; blocks start at multiples of
	// it since the Unix epoch. Default DefaultWindow.
	Window time.Duration
	// Seed seeds the entropy of block ULIDs and profile IDs, so that the
	// same profiles added in the same order give byte-identical blocks.
	Seed uint64
	// MaxRowsPerRowGroup cuts profiles.parquet row groups; default 100 000.
	MaxRowsPerRowGroup int
}

// Writer collects profiles and writes them as blocks into a bucket, under
// <tenant>/phlaredb/<ULID>/, one block per time window. It keeps
// everything it is given in memory until Flush.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	tenant  string
	bkt     objstore.Bucket
	window  int64 // ns
	maxRows int
	rng     *rand.Rand
	blocks  map[int64]*blockState // by window start, ns
}

// BlockInfo describes a block Flush wrote.
type BlockInfo struct {
	ULID ulid.ULID
	// Dir is the block's directory in the bucket, without a trailing slash.
	Dir               string
	MinTime, MaxTime  int64 // ms, inclusive
	NumSeries         int
	NumProfiles       int // profiles.parquet rows
	NumSamples        int
	NumStacktraces    int // distinct stack traces, summed over partitions
	NumPartitions     int
	SizeBytes         int64 // all files, meta.json included
	StacktraceNodes   int
	NumSourceProfiles int // profiles given to Add
	WindowStart       time.Time
}

// New returns a Writer for tenant's blocks in bkt.
func New(bkt objstore.Bucket, tenant string, opts Options) (*Writer, error) {
	if tenant == "" || tenant == "." || tenant == ".." || containsAny(tenant, "/\\") {
		return nil, fmt.Errorf("invalid tenant ID %q", tenant)
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	if opts.Window < time.Millisecond {
		return nil, fmt.Errorf("block window %s is shorter than a millisecond", opts.Window)
	}
	if opts.MaxRowsPerRowGroup <= 0 {
		opts.MaxRowsPerRowGroup = maxRowsPerRowGroup
	}
	return &Writer{
		tenant:  tenant,
		bkt:     bkt,
		window:  int64(opts.Window),
		maxRows: opts.MaxRowsPerRowGroup,
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x6a09e667f3bcc908)),
		blocks:  map[int64]*blockState{},
	}, nil
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

// blockState is what has been added to one window.
type blockState struct {
	start      int64 // ns
	series     map[string]*seriesState
	partitions map[uint64]*partition
	rows       []profileRow
	sources    int
}

type seriesState struct {
	labels           Labels
	index            uint32 // assigned at flush
	minTime, maxTime int64  // ns
}

// profileRow is one row of profiles.parquet before series are numbered.
type profileRow struct {
	series    *seriesState
	id        [16]byte
	partition uint64
	timeNanos int64
	samples   []sample // by stack-trace ID, values > 0
	total     uint64

	dropFrames, keepFrames int64
	durationNanos, period  int64
	comments               []int64
	defaultSampleType      int64
	seq                    int // Add order, for a stable sort
}

type sample struct {
	stacktraceID uint32
	value        int64
}

// Add adds a profile to the block of the window holding timeNanos (or the
// profile's time_nanos when timeNanos is 0). labels are the series labels
// shared by all sample types: they must include __name__, may include
// service_name, and may not include the labels derived from the profile
// (__type__, __unit__, __period_type__, __period_unit__,
// __profile_type__, __service_name__). Ingestion hints (__delta__,
// __otel__, __order__) and labels with empty values are dropped.
//
// Each sample type becomes a row of its own series; sample types without
// positive values are left out. Add copies what it needs: p may be reused
// afterwards. On error nothing has been added.
func (w *Writer) Add(labels Labels, p *googlev1.Profile, timeNanos int64) error {
	base, err := normalizeLabels(labels)
	if err != nil {
		return fmt.Errorf("labels %s: %w", labels, err)
	}
	if timeNanos == 0 && p != nil {
		timeNanos = p.TimeNanos
	}
	if timeNanos <= 0 {
		return fmt.Errorf("profile %s: no timestamp (neither given nor in time_nanos)", base)
	}
	refs, err := checkProfile(p)
	if err != nil {
		return fmt.Errorf("profile %s: %w", base, err)
	}

	start := timeNanos - timeNanos%w.window
	b := w.blocks[start]
	if b == nil {
		b = &blockState{start: start, series: map[string]*seriesState{}, partitions: map[uint64]*partition{}}
		w.blocks[start] = b
	}
	b.sources++
	key := partitionKey(base)
	part := b.partitions[key]
	if part == nil {
		part = newPartition(key)
		b.partitions[key] = part
	}
	samples := newSymbolMapper(refs, part).convertSamples()

	var id [16]byte
	for i := 0; i < 16; i += 8 {
		v := w.rng.Uint64()
		for j := 0; j < 8; j++ {
			id[i+j] = byte(v >> (8 * j))
		}
	}
	id[6] = id[6]&0x0f | 0x40 // UUID version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant

	str := func(i int64) string { return p.StringTable[i] }
	var periodType, periodUnit string
	if pt := p.PeriodType; pt != nil {
		periodType, periodUnit = str(pt.Type), str(pt.Unit)
	}
	for t, st := range p.SampleType {
		row := profileRow{
			id: id, partition: key, timeNanos: timeNanos,
			dropFrames: p.DropFrames, keepFrames: p.KeepFrames,
			durationNanos: p.DurationNanos, period: p.Period,
			comments: slices.Clone(p.Comment), defaultSampleType: p.DefaultSampleType,
			seq: len(b.rows),
		}
		for _, s := range samples {
			v := p.Sample[s.sample].Value[t]
			if v <= 0 {
				continue
			}
			if n := len(row.samples); n > 0 && row.samples[n-1].stacktraceID == s.stacktraceID {
				row.samples[n-1].value += v
			} else {
				row.samples = append(row.samples, sample{s.stacktraceID, v})
			}
			row.total += uint64(v)
		}
		if len(row.samples) == 0 {
			continue
		}
		ls := sampleTypeLabels(base, str(st.Type), str(st.Unit), periodType, periodUnit)
		k := seriesKey(ls)
		s := b.series[k]
		if s == nil {
			s = &seriesState{labels: ls, minTime: timeNanos, maxTime: timeNanos}
			b.series[k] = s
		}
		s.minTime, s.maxTime = min(s.minTime, timeNanos), max(s.maxTime, timeNanos)
		row.series = s
		b.rows = append(b.rows, row)
	}
	return nil
}

// Pending reports the number of profiles.parquet rows added since the last
// Flush.
func (w *Writer) Pending() int {
	n := 0
	for _, b := range w.blocks {
		n += len(b.rows)
	}
	return n
}

// Flush writes one block per window that has received profiles, oldest
// first, and forgets them. Every block's files are uploaded before its
// meta.json; if writing a block fails, what was uploaded of it is deleted
// and Flush stops, keeping that block and the later ones for another try.
func (w *Writer) Flush(ctx context.Context) ([]BlockInfo, error) {
	return w.FlushBefore(ctx, math.MaxInt64)
}

// FlushBefore is Flush for the windows that end at or before timeNanos: a
// caller adding profiles in time order calls it to write the windows it is
// done with and bound its memory.
func (w *Writer) FlushBefore(ctx context.Context, timeNanos int64) ([]BlockInfo, error) {
	starts := make([]int64, 0, len(w.blocks))
	for s := range w.blocks {
		if s <= timeNanos-w.window {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	var out []BlockInfo
	for _, s := range starts {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		info, err := w.writeBlock(ctx, w.blocks[s])
		if err != nil {
			return out, err
		}
		delete(w.blocks, s)
		out = append(out, info)
	}
	return out, nil
}

// entropy adapts the Writer's random source to ulid.New.
type entropy struct{ rng *rand.Rand }

func (e entropy) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e.rng.Uint32())
	}
	return len(p), nil
}

var errNoRows = errors.New("no rows")

var errTooManySymbols = errors.New("more than 2^32 symbols in one table")
