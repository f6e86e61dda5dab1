package querier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	"github.com/cinder-profiling/cinder/pkg/parallelgzip"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
	"github.com/cinder-profiling/cinder/proto/querier/v1/querierv1connect"
)

// BlockSource gives the blocks of a tenant that overlap an inclusive
// millisecond range. *bucket.Syncer implements it.
type BlockSource interface {
	Blocks(tenant string, start, end int64) []*bucket.Block
}

// Service answers querier.v1.QuerierService from the blocks of a
// BlockSource. Methods not built yet answer unimplemented.
type Service struct {
	querierv1connect.UnimplementedQuerierServiceHandler

	cfg    Config
	blocks BlockSource
	logger *slog.Logger
	now    func() time.Time

	// gc counts collections for the free lists below, which drop what
	// sat idle through idleCollections of them.
	gc *gcClock
	// trees holds the merge trees of finished queries for reuse: they are
	// the bulk of what a merge allocates.
	trees freeList[*flamegraph.Tree]
	// scratch lends every tree of the service the arrays it fills while
	// it adds a partition, one set per core, trimmed by gc like the lists.
	scratch *flamegraph.ScratchPool
	// names lets the partitions of a key (a profiled service) in
	// successive blocks share one name tree, for every tree of s. It is
	// not split by tenant: a query shows only the name nodes its own
	// partitions have values on, never those another tenant's added.
	names *flamegraph.NameTrees
	// sums lends the per-partition sample sums of finished queries.
	sums sumArrays
	// scans lends the buffers of finished profile scans.
	scans blockreader.ScanBuffers
	// profiles holds a builder of a finished SelectMergeProfile query:
	// its tables of stacks, locations and strings are grown anew by every
	// query otherwise. Builders larger than maxPooledBuilderBytes are left
	// to the garbage collector (see releaseProfileBuilder).
	profiles              freeList[*flamegraph.ProfileBuilder]
	maxPooledBuilderBytes int64
}

// defaultMaxPooledBuilderBytes bounds the builders the service keeps: the
// merged profile of all CPU stacks of the bench bucket (4 blocks, 4 hours,
// 480k stacks) grows one of about 17 MB. One a few times larger comes from
// a rare query, and would be held, and marked by every garbage collection,
// until the pool is cleared.
const defaultMaxPooledBuilderBytes = 64 << 20

// New returns a Service over blocks.
func New(cfg Config, blocks BlockSource, logger *slog.Logger) *Service {
	s := &Service{cfg: cfg, blocks: blocks, logger: logger, now: time.Now, maxPooledBuilderBytes: defaultMaxPooledBuilderBytes}
	// A merge uses a tree per core, and truncating it two more; one query
	// at a time reuses them all. More concurrent queries allocate theirs.
	s.gc = newGCClock()
	s.trees.withClock(s.gc, 2*s.parallelism()+2)
	s.scratch = flamegraph.NewScratchPool(s.parallelism())
	s.gc.keep(trimmer(s.scratch.Trim))
	s.names = flamegraph.NewNameTrees()
	s.profiles.withClock(s.gc, 1)
	s.sums.maxBytes = defaultMaxSumBytes
	// A block is scanned by one core at a time.
	s.scans.Max = s.parallelism()
	return s
}

// Handler returns the path prefix and the HTTP handler that serve the
// service over Connect, gRPC and gRPC-Web, with tenancy, request limits,
// error mapping and request metrics applied to every method.
func (s *Service) Handler(reg prometheus.Registerer) (string, http.Handler) {
	interceptors := connect.WithInterceptors(
		newRequestMetrics(reg).interceptor(),
		errorInterceptor(s.logger),
		tenantInterceptor(s.cfg.MultitenancyEnabled),
		requestSizeInterceptor(s.cfg.MaxRequestBytes),
	)
	// The transport cap is looser than the logical limit: JSON bodies are
	// larger than the messages they encode, and the logical limit gives the
	// clearer invalid_argument error.
	readLimit := connect.WithReadMaxBytes(max(4*s.cfg.MaxRequestBytes, 64<<10))
	opts := []connect.HandlerOption{interceptors, readLimit, fastGzip(),
		connect.WithCodec(profileCodec{}), connect.WithCodec(profileJSONCodec{"json"}), connect.WithCodec(profileJSONCodec{"json; charset=utf-8"})}
	path, h := querierv1connect.NewQuerierServiceHandler(s, opts...)
	// SelectMergeProfile is served apart, with an answer the codec encodes
	// (see mergedProfile); the generated handler takes everything else.
	smp := connect.NewUnaryHandler(querierv1connect.QuerierServiceSelectMergeProfileProcedure, s.serveMergeProfile,
		connect.WithSchema(querierv1.File_querier_v1_querier_proto.Services().ByName("QuerierService").Methods().ByName("SelectMergeProfile")),
		connect.WithHandlerOptions(opts...))
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == querierv1connect.QuerierServiceSelectMergeProfileProcedure {
			smp.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	return path, CapabilitiesMiddleware(mux)
}

// fastGzip replaces the standard library's gzip, which spent longer
// compressing a merged profile of all CPU stacks than building it, with
// klauspost/compress's at its fastest level, and compresses large responses
// in chunks on all cores (parallelgzip): the output is still a single plain
// gzip member for any client.
func fastGzip() connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &gzip.Reader{} },
		func() connect.Compressor {
			w, err := parallelgzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			if err != nil {
				panic(err) // BestSpeed is a valid level
			}
			return w
		})
}

// tenant returns the tenant the tenant interceptor resolved.
func (s *Service) tenant(ctx context.Context) (string, error) {
	t, ok := TenantFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeInternal, errors.New("request has no tenant"))
	}
	return t, nil
}

func requestSizeInterceptor(limit int) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if m, ok := req.Any().(proto.Message); ok && limit > 0 {
				if n := proto.Size(m); n > limit {
					return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(
						"request is %d bytes, over the limit of %d bytes (-querier.max-request-bytes)", n, limit))
				}
			}
			return next(ctx, req)
		}
	}
}

// blockTree returns an empty tree, reused when one is free.
func (s *Service) blockTree() *flamegraph.Tree {
	if t, ok := s.trees.get(); ok {
		return t
	}
	t := flamegraph.NewTree()
	t.ShareScratch(s.scratch)
	t.ShareNames(s.names)
	return t
}

// profileBuilder returns a builder for a profile of type pt over
// [startMs, endMs], reused when one is free.
func (s *Service) profileBuilder(pt flamegraph.ProfileTypeInfo, startMs, endMs int64) *flamegraph.ProfileBuilder {
	if b, ok := s.profiles.get(); ok {
		b.Reset(pt, startMs, endMs)
		return b
	}
	return flamegraph.NewProfileBuilder(pt, startMs, endMs)
}

// releaseProfileBuilder makes b available to later queries, unless it
// has grown larger than s.maxPooledBuilderBytes; b must not be used after.
// It is reset first, so that it does not hold on to the partitions it
// merged, which the partition cache may drop meanwhile.
func (s *Service) releaseProfileBuilder(b *flamegraph.ProfileBuilder) {
	if b.SizeBytes() > s.maxPooledBuilderBytes {
		return
	}
	b.Reset(flamegraph.ProfileTypeInfo{}, 0, 0)
	s.profiles.put(b)
}

// releaseTree makes t available to later queries; t must not be used after.
func (s *Service) releaseTree(t *flamegraph.Tree) {
	t.Reset()
	s.trees.put(t)
}
