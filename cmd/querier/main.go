// Command querier serves querier.v1.QuerierService over a bucket of
// Pyroscope blocks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"github.com/oklog/ulid/v2"

	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/memlimit"
	"github.com/cinder-profiling/cinder/pkg/querier"
	"github.com/cinder-profiling/cinder/pkg/symdb"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "querier:", err)
		os.Exit(2)
	}
	logger, err := newLogger(cfg.Server)
	if err != nil {
		fmt.Fprintln(os.Stderr, "querier:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("querier stopped", "err", err)
		os.Exit(1)
	}
}

func newLogger(c ServerConfig) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, cfg *Config, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if cfg.Memory.Enabled() {
		defer memlimit.Start(cfg.Memory, logger).Stop()
	}

	bkt, err := bucket.NewBucket(ctx, cfg.Storage, logger, reg)
	if err != nil {
		return fmt.Errorf("bucket: %w", err)
	}
	defer bkt.Close()
	byteCache, err := cache.New(cfg.Cache, logger, reg)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer byteCache.Close()
	if cfg.Storage.Backend == bucket.BackendFilesystem {
		logger.Info("byte cache not used for block files: the bucket is a local filesystem")
	}
	var partitions bucket.PartitionCache
	if size := cfg.Cache.Partitions.MaxSizeBytes; size > 0 {
		lru := cache.NewObjectLRU[cache.ScopedKey[ulid.ULID, uint64]](size, (*symdb.Partition).SizeBytes)
		partitions = cache.InstrumentObjects(lru, "partitions", reg)
	}
	syncOpts := bucket.ServingOptions(cfg.Storage, &cfg.BlocksStorage, byteCache, partitions, cfg.Cache.Backend == cache.BackendMemory)
	syncer := bucket.NewSyncer(bkt, cfg.BlocksStorage, logger, reg, syncOpts...)
	svc := querier.New(cfg.Querier, syncer, logger)

	addr := net.JoinHostPort(cfg.Server.HTTPListenAddress, strconv.Itoa(cfg.Server.HTTPListenPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		// h2c serves gRPC (HTTP/2 with prior knowledge or Upgrade) on the
		// same cleartext port as HTTP/1.1.
		Handler:           h2c.NewHandler(newMux(svc, syncer, reg), &http2.Server{}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.Server.HTTPReadTimeout,
		WriteTimeout:      cfg.Server.HTTPWriteTimeout,
		IdleTimeout:       cfg.Server.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		syncer.Run(syncCtx)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("querier listening", "addr", ln.Addr().String(), "storage_backend", cfg.Storage.Backend)

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", cfg.Server.GracefulShutdownTimeout)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.GracefulShutdownTimeout)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	stopSync()
	<-syncDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func newMux(svc *querier.Service, syncer *bucket.Syncer, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	path, handler := svc.Handler(reg)
	mux.Handle(path, handler)
	mux.Handle("/pyroscope/", svc.LegacyHandler())
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !syncer.Ready() {
			http.Error(w, "not ready: first block sync has not finished", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
