package cache

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	dskitcache "github.com/grafana/dskit/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// Backends of the byte cache that New can build.
const (
	BackendMemory    = "memory"
	BackendMemcached = "memcached"
	BackendNone      = "none"
)

// SupportedBackends lists every value -cache.backend accepts.
var SupportedBackends = []string{BackendMemory, BackendMemcached, BackendNone}

// ErrUnsupportedBackend is returned by Validate and New for an unknown
// -cache.backend.
var ErrUnsupportedBackend = errors.New("unsupported cache backend")

// Config selects and configures the byte cache, and bounds the in-process
// cache of decoded symdb partitions. Its zero value is not usable: call
// RegisterFlags on a FlagSet first to install the defaults, then optionally
// overlay YAML.
type Config struct {
	Backend   string                           `yaml:"backend"`
	Memory    MemoryConfig                     `yaml:"memory"`
	Memcached dskitcache.MemcachedClientConfig `yaml:"memcached"`

	// Partitions bounds the ObjectLRU of decoded symdb partitions, which
	// lives in process whatever the backend.
	Partitions PartitionsConfig `yaml:"partitions"`
}

// MemoryConfig configures the memory backend.
type MemoryConfig struct {
	MaxSizeBytes int64 `yaml:"max_size_bytes"`
}

// PartitionsConfig configures the cache of decoded symdb partitions.
type PartitionsConfig struct {
	MaxSizeBytes int64 `yaml:"max_size_bytes"`
}

// RegisterFlags registers the -cache.* flags and sets their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	const prefix = "cache."
	f.StringVar(&c.Backend, prefix+"backend", BackendMemory,
		fmt.Sprintf("Backend of the cache of footers, indexes and results read from object storage. Supported backends are: %s.", strings.Join(SupportedBackends, ", ")))
	f.Int64Var(&c.Memory.MaxSizeBytes, prefix+"memory.max-size-bytes", 256<<20,
		"Bound on the keys and values held by the memory cache backend, in bytes.")
	c.Memcached.RegisterFlagsWithPrefix(prefix+"memcached.", f)
	f.Int64Var(&c.Partitions.MaxSizeBytes, prefix+"partitions.max-size-bytes", 512<<20,
		"Bound on the decoded symbol partitions kept in process, in bytes. 0 keeps none.")
}

// Validate checks the settings of the selected backend only.
func (c *Config) Validate() error {
	switch c.Backend {
	case BackendMemory, BackendNone:
		return nil
	case BackendMemcached:
		if err := c.Memcached.Validate(); err != nil {
			return fmt.Errorf("cache.memcached: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w %q: supported are %s", ErrUnsupportedBackend, c.Backend, strings.Join(SupportedBackends, ", "))
}

// New builds the byte cache that cfg selects, instrumented with metrics on
// reg (which may be nil) under name=<backend>. The caller closes it.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var c Cache
	switch cfg.Backend {
	case BackendMemory:
		c = NewMemory(BackendMemory, cfg.Memory.MaxSizeBytes)
	case BackendMemcached:
		m, err := NewMemcached(BackendMemcached, cfg.Memcached, logger, reg)
		if err != nil {
			return nil, err
		}
		c = m
	default:
		c = Noop{}
	}
	return Instrument(c, reg), nil
}
