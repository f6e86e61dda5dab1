package bucket

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"
	"golang.org/x/sync/errgroup"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

// Defaults of SyncConfig; a zero field means its default.
const (
	DefaultSyncInterval    = time.Minute
	DefaultSyncConcurrency = 8
	// DefaultDeletionDelay keeps a deletion-marked block visible for an hour
	// after it was marked. Compactors mark the source blocks right after
	// uploading their replacement; serving both for a while is harmless
	// (queries deduplicate superseded blocks), while hiding the sources at
	// once can leave a gap until the next sync loads the replacement. It
	// must stay well below the compactor's deletion delay (12h in Pyroscope),
	// after which the files really disappear.
	DefaultDeletionDelay = time.Hour
)

// maxPreallocBytes caps the buffer that a declared sizeBytes may allocate up
// front, so that a corrupt meta.json cannot make the syncer allocate
// terabytes; larger objects are read as they come.
const maxPreallocBytes = 1 << 30

// Errors that a block can fail to load with, besides those of blockreader.
var (
	ErrBlockIDMismatch = errors.New("meta.json ulid differs from the block directory")
	ErrNoIndexFile     = errors.New("meta.json does not list index.tsdb")
	ErrSizeMismatch    = errors.New("object size differs from meta.json sizeBytes")
)

// SyncConfig configures the background discovery of blocks. The zero value
// is usable: every zero field takes its default.
type SyncConfig struct {
	// Interval between two syncs.
	Interval time.Duration `yaml:"sync_interval"`
	// Concurrency bounds the tenants listed and the blocks loaded at once.
	Concurrency int `yaml:"meta_sync_concurrency"`
	// DeletionDelay is how long a block stays visible after the time its
	// deletion mark records. Zero hides a block as soon as the mark is seen.
	DeletionDelay time.Duration `yaml:"ignore_deletion_mark_delay"`
	// ProfilesReadAhead is how far beyond the page it needs a column
	// reader of a profiles table fetches in one request; 0 for
	// blockreader.DefaultReadAhead.
	ProfilesReadAhead int64 `yaml:"profiles_read_ahead_bytes"`
}

// FilesystemReadAhead is the read-ahead of profiles tables in a filesystem
// bucket: the operating system caches the files and answers short reads as
// fast as long ones, and every column a query scans holds a buffer this
// large (eight times less than blockreader.DefaultReadAhead, which object
// storage wants; on the bench bucket the peak resident memory of the
// queries fell by about 7 MB).
const FilesystemReadAhead = 256 << 10

// RegisterFlags registers the -blocks-storage.bucket-store.* flags and sets
// their defaults.
func (c *SyncConfig) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.Interval, "blocks-storage.bucket-store.sync-interval", DefaultSyncInterval,
		"How often to scan the bucket for new, removed and deletion-marked blocks.")
	f.IntVar(&c.Concurrency, "blocks-storage.bucket-store.meta-sync-concurrency", DefaultSyncConcurrency,
		"Number of tenants listed and blocks loaded (meta.json, markers, index.tsdb) concurrently during a sync.")
	f.DurationVar(&c.DeletionDelay, "blocks-storage.bucket-store.ignore-deletion-marks-delay", DefaultDeletionDelay,
		"How long a block marked for deletion is still served after the time in its mark. 0 hides it as soon as the mark is seen. Keep it well below the compactor's deletion delay.")
	f.Int64Var(&c.ProfilesReadAhead, "blocks-storage.bucket-store.profiles-read-ahead-bytes", 0,
		"How far beyond the page it needs a scan of profiles.parquet reads in one request, per column. 0 picks 256 KiB for a filesystem bucket and 2 MiB for object storage, where longer requests pay off.")
}

// Validate rejects settings that the flags could express but that make no
// sense.
func (c *SyncConfig) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("%w: -blocks-storage.bucket-store.sync-interval must not be negative", ErrInvalidSetting)
	case c.Concurrency < 0:
		return fmt.Errorf("%w: -blocks-storage.bucket-store.meta-sync-concurrency must not be negative", ErrInvalidSetting)
	case c.DeletionDelay < 0:
		return fmt.Errorf("%w: -blocks-storage.bucket-store.ignore-deletion-marks-delay must not be negative", ErrInvalidSetting)
	case c.ProfilesReadAhead < 0:
		return fmt.Errorf("%w: -blocks-storage.bucket-store.profiles-read-ahead-bytes must not be negative", ErrInvalidSetting)
	}
	return nil
}

func (c SyncConfig) withDefaults() SyncConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultSyncInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultSyncConcurrency
	}
	c.DeletionDelay = max(c.DeletionDelay, 0)
	return c
}

// Syncer keeps an up-to-date view of every tenant's usable blocks.
//
// Each sync lists the tenants, their block directories and their global
// markers, loads blocks it has not loaded yet (meta.json, the block's own
// deletion mark, index.tsdb in full) and drops blocks that vanished or whose
// deletion mark is older than the delay. Blocks are immutable, so a loaded
// block is never read again. A block that fails to load is skipped, counted
// and retried by the next sync; the other blocks are served regardless. A
// sync that cannot list the bucket keeps the previous view.
//
// Readers (Blocks, AllBlocks, Tenants) never wait for a sync: each sync
// publishes an immutable snapshot that readers load atomically.
//
// NOTE: a block's own deletion-mark.json is read only when the block is
// first loaded. Marks added later are seen through their global copy in
// markers/, which every Pyroscope and Mimir-era compactor writes.
type Syncer struct {
	bkt objstore.BucketReader
	// optional reads objects that may legitimately be missing (meta.json of
	// an upload in progress, deletion marks) without counting the miss as an
	// operation failure in the bucket metrics.
	optional objstore.BucketReader
	cfg      SyncConfig
	logger   *slog.Logger
	metrics  *syncMetrics
	now      func() time.Time

	// partitions, when set, bounds the decoded symbol partitions that the
	// blocks' symbol readers keep.
	partitions PartitionCache
	// symbolBuffers, when set, is the scratch the blocks' symbol readers
	// share.
	symbolBuffers *symdb.Buffers
	// byteCache, when set, keeps ranged reads of block files, those of
	// symbol files only unless symbolsUncached.
	byteCache       cache.Cache
	symbolsUncached bool
	// localDir, when set, is where the bucket keeps its objects as files
	// (see WithLocalFiles).
	localDir string

	view  atomic.Pointer[snapshot]
	ready chan struct{} // closed after the first successful sync

	// mu serialises syncs and guards the state they carry over.
	mu        sync.Mutex
	loaded    map[blockKey]*loadedBlock
	failing   map[blockKey]string  // last error logged for each failing block
	markTimes map[string]time.Time // global deletion mark object → its time
	gauged    map[string]struct{}  // tenant label values set in the gauges
}

type blockKey struct {
	tenant string
	id     ulid.ULID
}

// loadedBlock is a block that loaded successfully, with what the syncer
// needs to decide later whether it is still visible.
type loadedBlock struct {
	block     *Block
	localMark markState // from the block's own deletion-mark.json
}

// markState says whether a block carries a deletion mark and since when.
type markState struct {
	marked bool
	at     time.Time
}

// hides reports whether the mark makes the block invisible at now.
func (m markState) hides(now time.Time, delay time.Duration) bool {
	return m.marked && (delay == 0 || now.Sub(m.at) >= delay)
}

// merge returns the earlier of two marks.
func (m markState) merge(o markState) markState {
	if !m.marked || (o.marked && o.at.Before(m.at)) {
		return o
	}
	return m
}

// NewSyncer returns a Syncer over bkt, which must be scoped to the storage
// prefix that holds the tenant directories. Its metrics are registered with
// reg (nil registers nothing). Call Run to start syncing, or SyncOnce.
func NewSyncer(bkt objstore.BucketReader, cfg SyncConfig, logger *slog.Logger, reg prometheus.Registerer, opts ...SyncerOption) *Syncer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Syncer{
		bkt:       bkt,
		optional:  bkt,
		cfg:       cfg.withDefaults(),
		logger:    logger.With("component", "bucket-syncer"),
		metrics:   newSyncMetrics(reg),
		now:       time.Now,
		ready:     make(chan struct{}),
		loaded:    map[blockKey]*loadedBlock{},
		failing:   map[blockKey]string{},
		markTimes: map[string]time.Time{},
		gauged:    map[string]struct{}{},
	}
	if ib, ok := bkt.(objstore.InstrumentedBucketReader); ok {
		s.optional = ib.ReaderWithExpectedErrs(ib.IsObjNotFoundErr)
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Run syncs at once and then every Interval until ctx is done. A failed sync
// is logged and the previous view kept. Run returns nil when ctx is done.
func (s *Syncer) Run(ctx context.Context) error {
	s.syncAndLog(ctx)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.syncAndLog(ctx)
		}
	}
}

func (s *Syncer) syncAndLog(ctx context.Context) {
	if err := s.SyncOnce(ctx); err != nil && ctx.Err() == nil {
		s.logger.Error("bucket sync failed; keeping the previous view", "err", err)
	}
}

// Ready reports whether a sync has completed, that is whether the blocks
// lists reflect the bucket. Blocks that failed to load do not delay it.
func (s *Syncer) Ready() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// WaitReady blocks until Ready or until ctx is done.
func (s *Syncer) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Blocks returns the tenant's blocks that hold data in the inclusive range
// [start, end] (ms since the epoch), sorted by MinTime then ULID. An unknown
// tenant has no blocks. The slice is the caller's; the Blocks are shared.
func (s *Syncer) Blocks(tenant string, start, end int64) []*Block {
	v := s.view.Load()
	if v == nil || start > end {
		return nil
	}
	return v.overlapping(tenant, start, end)
}

// AllBlocks returns every block of the tenant, sorted by MinTime then ULID.
func (s *Syncer) AllBlocks(tenant string) []*Block {
	v := s.view.Load()
	if v == nil {
		return nil
	}
	return slices.Clone(v.blocks[tenant])
}

// Tenants returns the tenants that have at least one block, sorted.
func (s *Syncer) Tenants() []string {
	v := s.view.Load()
	if v == nil {
		return nil
	}
	return slices.Clone(v.tenants)
}

// SyncOnce runs one sync and publishes its view. On error the previous view
// stays in place. Concurrent calls run one after the other.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	start := time.Now()
	s.metrics.syncs.Inc()
	err := s.sync(ctx)
	s.metrics.syncDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.syncFailures.Inc()
		return fmt.Errorf("bucket sync: %w", err)
	}
	s.metrics.lastSuccessful.SetToCurrentTime()
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
	return nil
}

// tenantListing is what one sync found under one tenant.
type tenantListing struct {
	tenant  string
	deleted bool                 // tenant-deletion-mark.json present
	blocks  []ulid.ULID          // block directories, in listing order
	marks   map[ulid.ULID]string // block → its global deletion mark object
}

// blockResult is the outcome of resolving one listed block. Exactly one of
// loaded, failure, hidden and missingMeta is set.
type blockResult struct {
	key         blockKey
	loaded      *loadedBlock
	failure     *blockFailure
	hidden      bool // deletion mark older than the delay
	missingMeta bool // upload in progress or deletion in progress

	// A global mark time read for the first time, to cache.
	markName string
	markTime time.Time
}

type blockFailure struct {
	file   string
	reason string
	err    error
}

func (s *Syncer) sync(ctx context.Context) error {
	// Some providers (the in-memory one) never look at ctx themselves.
	if err := ctx.Err(); err != nil {
		return err
	}
	tenants, err := s.listTenants(ctx)
	if err != nil {
		return err
	}

	listings := make([]tenantListing, len(tenants))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for i, tenant := range tenants {
		g.Go(func() error {
			l, err := s.listTenant(gctx, tenant)
			if err != nil {
				return fmt.Errorf("tenant %s: %w", tenant, err)
			}
			listings[i] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	type job struct {
		key      blockKey
		markName string
	}
	var jobs []job
	for _, l := range listings {
		if l.deleted {
			s.logger.Debug("skipping tenant marked for deletion", "tenant", l.tenant)
			continue
		}
		for _, id := range l.blocks {
			jobs = append(jobs, job{blockKey{l.tenant, id}, l.marks[id]})
		}
	}
	results := make([]blockResult, len(jobs))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for i, j := range jobs {
		g.Go(func() error {
			r, err := s.resolveBlock(gctx, j.key, j.markName)
			results[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.commit(listings, results)
	return nil
}

// listTenants lists the top-level directories that are tenants.
func (s *Syncer) listTenants(ctx context.Context) ([]string, error) {
	var tenants []string
	err := s.bkt.Iter(ctx, "", func(name string) error {
		if t, ok := tenantFromEntry(name); ok {
			tenants = append(tenants, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return tenants, nil
}

// listTenant lists a tenant's markers and, unless the tenant is being
// deleted, its block directories.
func (s *Syncer) listTenant(ctx context.Context, tenant string) (tenantListing, error) {
	l := tenantListing{tenant: tenant}
	markers := tenantMarkersDir(tenant)
	err := s.bkt.Iter(ctx, markers, func(name string) error {
		switch kind, id := parseMarkerEntry(markers, name); kind {
		case tenantDeletionMarker:
			l.deleted = true
		case blockDeletionMarker:
			if l.marks == nil {
				l.marks = map[ulid.ULID]string{}
			}
			l.marks[id] = name
		}
		return nil
	})
	if err != nil {
		return l, fmt.Errorf("list %s: %w", markers, err)
	}
	if l.deleted {
		return l, nil
	}
	blocks := tenantBlocksDir(tenant)
	err = s.bkt.Iter(ctx, blocks, func(name string) error {
		if id, ok := blockIDFromEntry(blocks, name); ok {
			l.blocks = append(l.blocks, id)
		}
		return nil
	})
	if err != nil {
		return l, fmt.Errorf("list %s: %w", blocks, err)
	}
	return l, nil
}

// resolveBlock decides whether a listed block is visible and loads it if it
// is new. It returns an error only when the sync must be abandoned: ctx is
// done, or a global deletion mark cannot be read (hiding or showing the
// block would both be guesses).
func (s *Syncer) resolveBlock(ctx context.Context, key blockKey, markName string) (blockResult, error) {
	res := blockResult{key: key}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	now := s.now()
	dir := blockDir(key.tenant, key.id)

	var global markState
	if markName != "" {
		global.marked = true
		if s.cfg.DeletionDelay > 0 {
			// The mark's time matters only when there is a delay; marks are
			// immutable, so each is read once.
			at, cached := s.markTimes[markName]
			if !cached {
				var found bool
				var err error
				at, found, err = s.readMark(ctx, key, markName)
				if err != nil {
					return res, err
				}
				if !found {
					// Removed between listing and reading: the deleter
					// removes the mark last, so the block is gone too.
					global.marked = false
				} else {
					res.markName, res.markTime = markName, at
				}
			}
			global.at = at
		}
	}
	if global.hides(now, s.cfg.DeletionDelay) {
		res.hidden = true
		return res, nil
	}

	if prev := s.loaded[key]; prev != nil {
		if prev.localMark.merge(global).hides(now, s.cfg.DeletionDelay) {
			res.hidden = true
			return res, nil
		}
		res.loaded = prev
		return res, nil
	}

	fail := func(file, reason string, err error) (blockResult, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return res, ctxErr
		}
		res.failure = &blockFailure{file: file, reason: reason, err: err}
		return res, nil
	}

	metaName := dir + "/" + blockreader.MetaFilename
	data, err := readObject(ctx, s.optional, metaName, 0)
	if err != nil {
		if s.bkt.IsObjNotFoundErr(err) {
			res.missingMeta = true
			return res, nil
		}
		return fail(blockreader.MetaFilename, reasonMeta, err)
	}
	meta, err := blockreader.ParseMeta(data)
	if err != nil {
		return fail(blockreader.MetaFilename, reasonMeta, err)
	}
	if meta.ULID != key.id {
		return fail(blockreader.MetaFilename, reasonMeta, fmt.Errorf("%w: %s", ErrBlockIDMismatch, meta.ULID))
	}

	local := markState{}
	at, found, err := s.readMark(ctx, key, dir+"/"+deletionMarkFilename)
	if err != nil {
		return fail(deletionMarkFilename, reasonMarker, err)
	}
	if found {
		local = markState{marked: true, at: at}
	}
	if local.merge(global).hides(now, s.cfg.DeletionDelay) {
		res.hidden = true
		return res, nil
	}

	f, ok := meta.File(indexFilename)
	if !ok {
		return fail(indexFilename, reasonIndex, ErrNoIndexFile)
	}
	data, err = readObject(ctx, s.bkt, dir+"/"+indexFilename, f.SizeBytes)
	if err != nil {
		return fail(indexFilename, reasonIndex, err)
	}
	idx, err := blockreader.NewIndexReader(data)
	if err != nil {
		return fail(indexFilename, reasonIndex, err)
	}
	if err := idx.Validate(); err != nil {
		return fail(indexFilename, reasonIndex, err)
	}

	res.loaded = &loadedBlock{
		block: &Block{
			Meta: meta, Index: idx, Tenant: key.tenant,
			Files:         s.blockFiles(blockDir(key.tenant, meta.ULID), meta),
			partitions:    s.partitions,
			symbolBuffers: s.symbolBuffers,
			readAhead:     s.cfg.ProfilesReadAhead,
		},
		localMark: local,
	}
	return res, nil
}

// readMark reads the deletion mark object name of a block. A missing mark
// is (zero, false, nil). A mark whose content is corrupt is logged, counted
// and dated to now: the intent to delete is clear, only the time is not.
func (s *Syncer) readMark(ctx context.Context, key blockKey, name string) (time.Time, bool, error) {
	data, err := readObject(ctx, s.optional, name, 0)
	if err != nil {
		if s.bkt.IsObjNotFoundErr(err) {
			return time.Time{}, false, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return time.Time{}, false, ctxErr
		}
		return time.Time{}, false, fmt.Errorf("read %s: %w", name, err)
	}
	at, err := parseDeletionMark(data, key.id)
	if err != nil {
		s.metrics.loadFailures.WithLabelValues(reasonMarker).Inc()
		s.logger.Warn("deletion mark is corrupt; treating the block as marked now",
			"tenant", key.tenant, "block", key.id, "file", name, "err", err)
		return s.now(), true, nil
	}
	return at, true, nil
}

// readObject reads a whole object. When size is non-zero the object must be
// exactly that long.
func readObject(ctx context.Context, bkt objstore.BucketReader, name string, size uint64) ([]byte, error) {
	rc, err := bkt.Get(ctx, name)
	if err != nil {
		// Unwrapped, so that the provider's IsObjNotFoundErr recognises it.
		return nil, err
	}
	defer rc.Close()

	if size == 0 || size > maxPreallocBytes {
		data, err := io.ReadAll(rc)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if size != 0 && uint64(len(data)) != size {
			return nil, fmt.Errorf("%s: %w: %d bytes, expected %d", name, ErrSizeMismatch, len(data), size)
		}
		return data, nil
	}
	data := make([]byte, size)
	if n, err := io.ReadFull(rc, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w: %d bytes, expected %d", name, ErrSizeMismatch, n, size)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if extra, err := io.Copy(io.Discard, io.LimitReader(rc, 1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	} else if extra > 0 {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", name, ErrSizeMismatch, size)
	}
	return data, nil
}

// commit turns a sync's results into the next view and carried-over state,
// logs what changed and updates the metrics.
func (s *Syncer) commit(listings []tenantListing, results []blockResult) {
	loaded := make(map[blockKey]*loadedBlock, len(results))
	failing := make(map[blockKey]string)
	markTimes := make(map[string]time.Time, len(s.markTimes))
	for _, l := range listings {
		for _, name := range l.marks {
			if at, ok := s.markTimes[name]; ok {
				markTimes[name] = at
			}
		}
	}

	type tenantStats struct{ loaded, corrupt, indexBytes int }
	stats := map[string]*tenantStats{}
	tenantStat := func(t string) *tenantStats {
		if stats[t] == nil {
			stats[t] = &tenantStats{}
		}
		return stats[t]
	}

	var visible []*Block
	var added, hidden, failed int
	for _, r := range results {
		if r.markName != "" {
			markTimes[r.markName] = r.markTime
		}
		log := s.logger.With("tenant", r.key.tenant, "block", r.key.id)
		switch {
		case r.failure != nil:
			failed++
			msg := r.failure.err.Error()
			if s.failing[r.key] != msg {
				log.Warn("skipping block that cannot be loaded", "file", r.failure.file, "err", r.failure.err)
			} else {
				log.Debug("block still cannot be loaded", "file", r.failure.file, "err", r.failure.err)
			}
			failing[r.key] = msg
			s.metrics.loadFailures.WithLabelValues(r.failure.reason).Inc()
			tenantStat(r.key.tenant).corrupt++
		case r.loaded != nil:
			if s.loaded[r.key] == nil {
				added++
				if _, wasFailing := s.failing[r.key]; wasFailing {
					log.Info("block loaded after earlier failures")
				} else {
					log.Debug("block loaded", "min_time", int64(r.loaded.block.Meta.MinTime), "max_time", int64(r.loaded.block.Meta.MaxTime))
				}
			}
			loaded[r.key] = r.loaded
			visible = append(visible, r.loaded.block)
			st := tenantStat(r.key.tenant)
			st.loaded++
			st.indexBytes += r.loaded.block.Index.Bytes()
		case r.hidden:
			hidden++
			if s.loaded[r.key] != nil {
				log.Info("block hidden: marked for deletion")
			}
		case r.missingMeta:
			log.Debug("skipping block without meta.json (upload or deletion in progress)")
		}
	}
	removed := 0
	for key := range s.loaded {
		if loaded[key] == nil {
			removed++
		}
	}

	s.view.Store(newSnapshot(visible))
	s.loaded, s.failing, s.markTimes = loaded, failing, markTimes

	for t := range s.gauged {
		if stats[t] == nil {
			s.metrics.blocksLoaded.DeleteLabelValues(t)
			s.metrics.indexBytes.DeleteLabelValues(t)
			s.metrics.corruptBlocks.DeleteLabelValues(t)
			delete(s.gauged, t)
		}
	}
	for t, st := range stats {
		s.metrics.blocksLoaded.WithLabelValues(t).Set(float64(st.loaded))
		s.metrics.indexBytes.WithLabelValues(t).Set(float64(st.indexBytes))
		s.metrics.corruptBlocks.WithLabelValues(t).Set(float64(st.corrupt))
		s.gauged[t] = struct{}{}
	}

	lvl := slog.LevelDebug
	if added > 0 || removed > 0 {
		lvl = slog.LevelInfo
	}
	s.logger.Log(context.Background(), lvl, "bucket sync done",
		"tenants", len(listings), "blocks", len(visible), "added", added, "dropped", removed,
		"hidden", hidden, "failed", failed)
}
