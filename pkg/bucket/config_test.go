package bucket

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/grafana/dskit/flagext"
	"gopkg.in/yaml.v3"
)

// flagSet registers r's flags on a fresh FlagSet, installing the defaults.
func flagSet(t testing.TB, r interface{ RegisterFlags(*flag.FlagSet) }) *flag.FlagSet {
	t.Helper()
	fs := flag.NewFlagSet(t.Name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	r.RegisterFlags(fs)
	return fs
}

// defaultConfig returns a Config holding the flag defaults.
func defaultConfig(t testing.TB) Config {
	t.Helper()
	var cfg Config
	flagSet(t, &cfg)
	return cfg
}

func TestConfigDefaults(t *testing.T) {
	cfg := defaultConfig(t)
	if cfg.Backend != BackendFilesystem || cfg.Filesystem.Directory != "./examples/bucket" || cfg.Prefix != "" {
		t.Errorf("defaults: backend %q, dir %q, prefix %q", cfg.Backend, cfg.Filesystem.Directory, cfg.Prefix)
	}
	if cfg.Azure.EndpointSuffix != "blob.core.windows.net" {
		t.Errorf("azure endpoint suffix default %q", cfg.Azure.EndpointSuffix)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestConfigFlags(t *testing.T) {
	var cfg Config
	fs := flagSet(t, &cfg)
	args := []string{
		"-storage.backend=s3",
		"-storage.prefix=pyroscope/prod",
		"-storage.filesystem.dir=/data",
		"-storage.s3.endpoint=minio:9000",
		"-storage.s3.bucket-name=blocks",
		"-storage.s3.region=eu-west-1",
		"-storage.s3.access-key-id=AKID",
		"-storage.s3.secret-access-key=s3cret",
		"-storage.s3.insecure",
		"-storage.s3.force-path-style",
		"-storage.gcs.bucket-name=gblocks",
		"-storage.gcs.service-account={}",
		"-storage.azure.account-name=acct",
		"-storage.azure.account-key=a2V5",
		"-storage.azure.container-name=cont",
		"-storage.azure.endpoint-suffix=blob.core.chinacloudapi.cn",
		"-storage.swift.auth-url=http://keystone:5000/v3",
		"-storage.swift.username=user",
		"-storage.swift.password=pw",
		"-storage.swift.project-name=proj",
		"-storage.swift.region-name=RegionOne",
		"-storage.swift.container-name=swcont",
		"-storage.swift.request-timeout=1m",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := defaultConfig(t)
	want.Backend = BackendS3
	want.Prefix = "pyroscope/prod"
	want.Filesystem.Directory = "/data"
	want.S3.Endpoint, want.S3.BucketName, want.S3.Region = "minio:9000", "blocks", "eu-west-1"
	want.S3.AccessKeyID, want.S3.SecretAccessKey = "AKID", flagext.SecretWithValue("s3cret")
	want.S3.Insecure, want.S3.ForcePathStyle = true, true
	want.GCS.BucketName, want.GCS.ServiceAccount = "gblocks", flagext.SecretWithValue("{}")
	want.Azure.AccountName, want.Azure.AccountKey, want.Azure.ContainerName = "acct", flagext.SecretWithValue("a2V5"), "cont"
	want.Azure.EndpointSuffix = "blob.core.chinacloudapi.cn"
	want.Swift.AuthURL, want.Swift.Username, want.Swift.Password = "http://keystone:5000/v3", "user", flagext.SecretWithValue("pw")
	want.Swift.ProjectName, want.Swift.RegionName, want.Swift.ContainerName = "proj", "RegionOne", "swcont"
	want.Swift.RequestTimeout = time.Minute
	if cfg != want {
		t.Errorf("parsed\n%+v\nwant\n%+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfigYAML(t *testing.T) {
	cfg := defaultConfig(t)
	doc := `
backend: azure
prefix: tenants
azure:
  account_name: acct
  account_key: a2V5
  container_name: blocks
swift:
  password: pw
`
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Backend != BackendAzure || cfg.Prefix != "tenants" || cfg.Azure.AccountName != "acct" ||
		cfg.Azure.AccountKey.String() != "a2V5" || cfg.Azure.ContainerName != "blocks" {
		t.Errorf("decoded %+v", cfg)
	}
	if cfg.Azure.EndpointSuffix != "blob.core.windows.net" || cfg.Filesystem.Directory != "./examples/bucket" {
		t.Error("YAML overlay lost flag defaults")
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "a2V5") || strings.Contains(string(out), ": pw") {
		t.Errorf("secrets leak into marshalled config:\n%s", out)
	}
}

func TestConfigValidate(t *testing.T) {
	with := func(f func(c *Config)) Config {
		c := defaultConfig(t)
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		err  error
	}{
		{"defaults", with(func(c *Config) {}), nil},
		{"unknown backend", with(func(c *Config) { c.Backend = "ftp" }), ErrUnsupportedBackend},
		{"empty backend", with(func(c *Config) { c.Backend = "" }), ErrUnsupportedBackend},
		{"backend is case-sensitive", with(func(c *Config) { c.Backend = "S3" }), ErrUnsupportedBackend},
		{"prefix with slashes around", with(func(c *Config) { c.Prefix = "/a/b/" }), nil},
		{"prefix escaping", with(func(c *Config) { c.Prefix = "a/../../b" }), ErrInvalidPrefix},
		{"prefix dot", with(func(c *Config) { c.Prefix = "." }), ErrInvalidPrefix},
		{"prefix double slash", with(func(c *Config) { c.Prefix = "a//b" }), ErrInvalidPrefix},
		{"filesystem without dir", with(func(c *Config) { c.Filesystem.Directory = "" }), ErrMissingSetting},

		{"s3 minimal", with(func(c *Config) { c.Backend = BackendS3; c.S3.BucketName = "b" }), nil},
		{"s3 without bucket", with(func(c *Config) { c.Backend = BackendS3 }), ErrMissingSetting},
		{"s3 endpoint with scheme", with(func(c *Config) {
			c.Backend, c.S3.BucketName, c.S3.Endpoint = BackendS3, "b", "https://minio:9000"
		}), ErrInvalidSetting},
		{"s3 key without secret", with(func(c *Config) { c.Backend, c.S3.BucketName, c.S3.AccessKeyID = BackendS3, "b", "k" }), ErrMissingSetting},
		{"s3 secret without key", with(func(c *Config) {
			c.Backend, c.S3.BucketName, c.S3.SecretAccessKey = BackendS3, "b", flagext.SecretWithValue("s")
		}), ErrMissingSetting},
		{"s3 native auth and keys", with(func(c *Config) {
			c.Backend, c.S3.BucketName, c.S3.NativeAWSAuth = BackendS3, "b", true
			c.S3.AccessKeyID, c.S3.SecretAccessKey = "k", flagext.SecretWithValue("s")
		}), ErrInvalidSetting},
		{"another backend's settings are not checked", with(func(c *Config) { c.S3.Endpoint = "http://x" }), nil},

		{"gcs minimal", with(func(c *Config) { c.Backend, c.GCS.BucketName = BackendGCS, "b" }), nil},
		{"gcs without bucket", with(func(c *Config) { c.Backend = BackendGCS }), ErrMissingSetting},
		{"gcs service account path", with(func(c *Config) {
			c.Backend, c.GCS.BucketName, c.GCS.ServiceAccount = BackendGCS, "b", flagext.SecretWithValue("/etc/sa.json")
		}), ErrInvalidSetting},

		{"azure minimal", with(func(c *Config) { c.Backend, c.Azure.AccountName, c.Azure.ContainerName = BackendAzure, "a", "c" }), nil},
		{"azure without account", with(func(c *Config) { c.Backend, c.Azure.ContainerName = BackendAzure, "c" }), ErrMissingSetting},
		{"azure without container", with(func(c *Config) { c.Backend, c.Azure.AccountName = BackendAzure, "a" }), ErrMissingSetting},
		{"azure key and connection string", with(func(c *Config) {
			c.Backend, c.Azure.AccountName, c.Azure.ContainerName = BackendAzure, "a", "c"
			c.Azure.AccountKey, c.Azure.ConnectionString = flagext.SecretWithValue("k"), flagext.SecretWithValue("cs")
		}), ErrInvalidSetting},

		{"swift minimal", with(func(c *Config) { c.Backend, c.Swift.AuthURL, c.Swift.ContainerName = BackendSwift, "http://k", "c" }), nil},
		{"swift without auth url", with(func(c *Config) { c.Backend, c.Swift.ContainerName = BackendSwift, "c" }), ErrMissingSetting},
		{"swift without container", with(func(c *Config) { c.Backend, c.Swift.AuthURL = BackendSwift, "http://k" }), ErrMissingSetting},
		{"swift bad auth version", with(func(c *Config) {
			c.Backend, c.Swift.AuthURL, c.Swift.ContainerName, c.Swift.AuthVersion = BackendSwift, "http://k", "c", 4
		}), ErrInvalidSetting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("Validate() = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestS3Endpoint(t *testing.T) {
	for _, tc := range []struct {
		cfg  S3Config
		want string
	}{
		{S3Config{}, "s3.amazonaws.com"},
		{S3Config{Region: "eu-west-1"}, "s3.eu-west-1.amazonaws.com"},
		{S3Config{Region: "eu-west-1", Endpoint: "minio:9000"}, "minio:9000"},
	} {
		if got := tc.cfg.endpoint(); got != tc.want {
			t.Errorf("%+v: endpoint %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestLocalDirectory(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Backend: BackendFilesystem, Filesystem: FilesystemConfig{Directory: "/data"}}, "/data"},
		{Config{Backend: BackendFilesystem, Prefix: "/pyroscope/", Filesystem: FilesystemConfig{Directory: "/data"}}, "/data/pyroscope"},
		{Config{Backend: BackendFilesystem, Prefix: "a/b", Filesystem: FilesystemConfig{Directory: "data"}}, "data/a/b"},
		{Config{Backend: BackendS3, Filesystem: FilesystemConfig{Directory: "/data"}}, ""},
	}
	for _, c := range cases {
		if got := c.cfg.LocalDirectory(); got != c.want {
			t.Errorf("%s with prefix %q: LocalDirectory = %q, want %q", c.cfg.Backend, c.cfg.Prefix, got, c.want)
		}
	}
}
