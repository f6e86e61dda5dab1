package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cinder-profiling/cinder/pkg/bucket"
	"github.com/cinder-profiling/cinder/pkg/cache"
	"github.com/cinder-profiling/cinder/pkg/memlimit"
	"github.com/cinder-profiling/cinder/pkg/querier"
)

// Config is everything the querier binary can be told, by flag or by the
// YAML file named by -config.file. Flags win over the file.
type Config struct {
	Server        ServerConfig      `yaml:"server"`
	Storage       bucket.Config     `yaml:"storage"`
	BlocksStorage bucket.SyncConfig `yaml:"blocks_storage"`
	Querier       querier.Config    `yaml:"querier"`
	Cache         cache.Config      `yaml:"cache"`
	Memory        memlimit.Config   `yaml:"memory"`
}

// ServerConfig configures the HTTP listener and logging.
type ServerConfig struct {
	HTTPListenAddress       string        `yaml:"http_listen_address"`
	HTTPListenPort          int           `yaml:"http_listen_port"`
	HTTPReadTimeout         time.Duration `yaml:"http_server_read_timeout"`
	HTTPWriteTimeout        time.Duration `yaml:"http_server_write_timeout"`
	HTTPIdleTimeout         time.Duration `yaml:"http_server_idle_timeout"`
	GracefulShutdownTimeout time.Duration `yaml:"graceful_shutdown_timeout"`
	LogLevel                string        `yaml:"log_level"`
	LogFormat               string        `yaml:"log_format"`
}

// RegisterFlags registers the server's flags with their defaults.
func (c *ServerConfig) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.HTTPListenAddress, "server.http-listen-address", "", "HTTP listen address; empty listens on every interface.")
	f.IntVar(&c.HTTPListenPort, "server.http-listen-port", 4040, "HTTP listen port: Connect, gRPC, gRPC-Web, /ready, /metrics and /debug/pprof all share it.")
	f.DurationVar(&c.HTTPReadTimeout, "server.http-server-read-timeout", 30*time.Second, "Read timeout for a whole HTTP request.")
	f.DurationVar(&c.HTTPWriteTimeout, "server.http-server-write-timeout", 60*time.Second, "Write timeout for an HTTP response.")
	f.DurationVar(&c.HTTPIdleTimeout, "server.http-server-idle-timeout", 120*time.Second, "How long an idle keep-alive connection stays open.")
	f.DurationVar(&c.GracefulShutdownTimeout, "server.graceful-shutdown-timeout", 30*time.Second, "How long in-flight requests may take to finish after SIGTERM.")
	f.StringVar(&c.LogLevel, "log.level", "info", "Log level: debug, info, warn or error.")
	f.StringVar(&c.LogFormat, "log.format", "logfmt", "Log format: logfmt or json.")
}

// RegisterFlags registers every flag of the binary.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	c.Server.RegisterFlags(f)
	c.Storage.RegisterFlags(f)
	c.BlocksStorage.RegisterFlags(f)
	c.Querier.RegisterFlags(f)
	c.Cache.RegisterFlags(f)
	c.Memory.RegisterFlags(f)
}

// Validate checks the values that flags cannot check on their own.
func (c *Config) Validate() error {
	if c.Server.HTTPListenPort < 0 || c.Server.HTTPListenPort > 65535 {
		return fmt.Errorf("-server.http-listen-port %d is not a port", c.Server.HTTPListenPort)
	}
	switch c.Server.LogFormat {
	case "logfmt", "json":
	default:
		return fmt.Errorf("-log.format %q: want logfmt or json", c.Server.LogFormat)
	}
	if err := c.Memory.Validate(); err != nil {
		return err
	}
	if err := c.Cache.Validate(); err != nil {
		return err
	}
	return c.Storage.Validate()
}

// parseConfig fills a Config from defaults, then the YAML file named by
// -config.file if any, then the command-line flags.
func parseConfig(args []string, stderr io.Writer) (*Config, error) {
	var (
		cfg        Config
		configFile string
	)
	fs := flag.NewFlagSet("querier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&configFile, "config.file", "", "YAML configuration file; flags given on the command line override it.")
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if configFile != "" {
		if err := loadYAML(configFile, &cfg); err != nil {
			return nil, err
		}
		// Parse again so that the command line wins over the file.
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func loadYAML(path string, cfg *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}
