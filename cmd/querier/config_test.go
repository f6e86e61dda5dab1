package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cinder.yaml")
	if err := os.WriteFile(file, []byte(`
server:
  http_listen_port: 9999
  log_level: debug
storage:
  backend: filesystem
  filesystem:
    dir: /from/yaml
querier:
  multitenancy_enabled: true
  max_query_length: 24h
`), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg, err := parseConfig(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Server.HTTPListenPort != 4040 || cfg.Storage.Backend != "filesystem" ||
			cfg.Storage.Filesystem.Directory != "./examples/bucket" || cfg.Querier.MultitenancyEnabled {
			t.Errorf("unexpected defaults: %+v", cfg)
		}
	})
	t.Run("yaml over defaults, flags over yaml", func(t *testing.T) {
		cfg, err := parseConfig([]string{"-config.file=" + file, "-server.http-listen-port=1234"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Server.HTTPListenPort != 1234 {
			t.Errorf("port %d: the flag must win over the file", cfg.Server.HTTPListenPort)
		}
		if cfg.Server.LogLevel != "debug" || cfg.Storage.Filesystem.Directory != "/from/yaml" ||
			!cfg.Querier.MultitenancyEnabled || cfg.Querier.MaxQueryLength != 24*time.Hour {
			t.Errorf("file values not applied: %+v", cfg)
		}
		if cfg.Server.HTTPReadTimeout != 30*time.Second {
			t.Errorf("a default the file does not mention was lost: %v", cfg.Server.HTTPReadTimeout)
		}
	})
	for _, tc := range []struct {
		name    string
		args    []string
		yaml    string
		wantErr string
	}{
		{"unknown yaml key", nil, "server:\n  nope: 1\n", "nope"},
		{"unknown backend", []string{"-storage.backend=ftp"}, "", "ftp"},
		{"bad log format", []string{"-log.format=xml"}, "", "log.format"},
		{"bad port", []string{"-server.http-listen-port=70000"}, "", "port"},
		{"unknown flag", []string{"-no.such.flag"}, "", "no.such.flag"},
		{"stray argument", []string{"extra"}, "", "unexpected arguments"},
		{"missing file", []string{"-config.file=" + filepath.Join(dir, "absent.yaml")}, "", "absent.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.yaml != "" {
				f := filepath.Join(t.TempDir(), "c.yaml")
				os.WriteFile(f, []byte(tc.yaml), 0o644)
				args = append(args, "-config.file="+f)
			}
			_, err := parseConfig(args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
}
