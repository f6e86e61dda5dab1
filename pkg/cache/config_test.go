package cache

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func parseFlags(t *testing.T, args ...string) Config {
	t.Helper()
	var cfg Config
	f := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfigDefaults(t *testing.T) {
	cfg := parseFlags(t)
	if cfg.Backend != BackendMemory || cfg.Memory.MaxSizeBytes != 256<<20 || cfg.Partitions.MaxSizeBytes != 512<<20 {
		t.Errorf("defaults: backend %q, memory %d, partitions %d", cfg.Backend, cfg.Memory.MaxSizeBytes, cfg.Partitions.MaxSizeBytes)
	}
	if cfg.Memcached.MaxItemSize != 1<<20 || cfg.Memcached.Timeout != 200*time.Millisecond || cfg.Memcached.MaxIdleConnections != 100 {
		t.Errorf("memcached defaults: %+v", cfg.Memcached)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestConfigFlags(t *testing.T) {
	cfg := parseFlags(t,
		"-cache.backend=memcached",
		"-cache.memcached.addresses=127.0.0.1:11211,dns+memcached.svc:11211",
		"-cache.memcached.timeout=1s",
		"-cache.memcached.max-idle-connections=7",
		"-cache.memcached.max-item-size=2097152",
		"-cache.memory.max-size-bytes=67108864",
		"-cache.partitions.max-size-bytes=1073741824",
	)
	if cfg.Backend != BackendMemcached || len(cfg.Memcached.Addresses) != 2 || cfg.Memcached.Timeout != time.Second ||
		cfg.Memcached.MaxIdleConnections != 7 || cfg.Memcached.MaxItemSize != 2<<20 ||
		cfg.Memory.MaxSizeBytes != 64<<20 || cfg.Partitions.MaxSizeBytes != 1<<30 {
		t.Errorf("parsed %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-cache.backend=none"}, ""},
		{[]string{"-cache.backend=redis"}, "unsupported cache backend"},
		{[]string{"-cache.backend=memcached"}, "cache.memcached"},
	} {
		cfg := parseFlags(t, tc.args...)
		err := cfg.Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%v: Validate() = %v, want %q", tc.args, err, tc.wantErr)
		}
		if _, newErr := New(cfg, nil, nil); (newErr == nil) != (err == nil) {
			t.Errorf("%v: New() = %v, Validate() = %v", tc.args, newErr, err)
		}
	}
	cfg := parseFlags(t, "-cache.backend=redis")
	if err := cfg.Validate(); !errors.Is(err, ErrUnsupportedBackend) {
		t.Errorf("Validate() = %v, want ErrUnsupportedBackend", err)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	for _, backend := range []string{BackendMemory, BackendNone, BackendMemcached} {
		t.Run(backend, func(t *testing.T) {
			args := []string{"-cache.backend=" + backend}
			if backend == BackendMemcached {
				args = append(args, "-cache.memcached.addresses="+startMemcached(t))
			}
			c, err := New(parseFlags(t, args...), nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Name() != backend {
				t.Errorf("Name() = %q, want %q", c.Name(), backend)
			}
			c.Set(ctx, map[string][]byte{"k": []byte("v")}, 0)
			if backend == BackendNone {
				return
			}
			eventuallyValue(t, c, "k", "v")
		})
	}
}
