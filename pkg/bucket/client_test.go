package bucket

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/grafana/dskit/flagext"
	"github.com/ncw/swift"
	"github.com/ncw/swift/swifttest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/thanos-io/objstore"
)

// TestBucketBackends runs one suite against every backend that can run on
// this machine (filesystem, Swift against an in-process fake) and checks
// that the cloud backends are built, or refused, without any network.
func TestBucketBackends(t *testing.T) {
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) Config
		// onDisk, when set, is where an object "a/b" must end up.
		onDisk func(cfg Config) string
		// partial skips objstore's acceptance suite, for fakes that do not
		// implement every operation.
		partial bool
	}{
		{
			name: "filesystem",
			cfg: func(t *testing.T) Config {
				cfg := defaultConfig(t)
				cfg.Filesystem.Directory = t.TempDir()
				return cfg
			},
			onDisk: func(cfg Config) string { return filepath.Join(cfg.Filesystem.Directory, "a", "b") },
		},
		{
			name: "filesystem with prefix",
			cfg: func(t *testing.T) Config {
				cfg := defaultConfig(t)
				cfg.Filesystem.Directory = t.TempDir()
				cfg.Prefix = "/cinder/blocks/"
				return cfg
			},
			onDisk: func(cfg Config) string {
				return filepath.Join(cfg.Filesystem.Directory, "cinder", "blocks", "a", "b")
			},
		},
		{
			name: "swift",
			cfg: func(t *testing.T) Config {
				srv, err := swifttest.NewSwiftServer("127.0.0.1")
				if err != nil {
					t.Skipf("cannot start the fake Swift server: %v", err)
				}
				t.Cleanup(srv.Close)
				// The querier never creates containers.
				conn := &swift.Connection{UserName: swifttest.TEST_ACCOUNT, ApiKey: swifttest.TEST_ACCOUNT, AuthUrl: srv.AuthURL}
				if err := conn.Authenticate(); err != nil {
					t.Fatal(err)
				}
				if err := conn.ContainerCreate("blocks", nil); err != nil {
					t.Fatal(err)
				}
				cfg := defaultConfig(t)
				cfg.Backend = BackendSwift
				cfg.Swift.AuthURL = srv.AuthURL
				cfg.Swift.Username = swifttest.TEST_ACCOUNT
				cfg.Swift.Password = flagext.SecretWithValue(swifttest.TEST_ACCOUNT)
				cfg.Swift.ContainerName = "blocks"
				return cfg
			},
			// swifttest panics on some ranged reads.
			partial: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			reg := prometheus.NewPedanticRegistry()
			bkt, err := NewBucket(ctx, cfg, slog.New(newLogRecorder()), reg)
			if err != nil {
				t.Fatalf("NewBucket: %v", err)
			}
			t.Cleanup(func() { _ = bkt.Close() })

			if !tc.partial {
				t.Run("objstore acceptance", func(t *testing.T) {
					objstore.AcceptanceTest(t, bkt)
				})
			}

			t.Run("upload get iter", func(t *testing.T) {
				mustUpload(t, bkt, "a/b", []byte("payload"))
				if got := mustGet(t, bkt, "a/b"); !bytes.Equal(got, []byte("payload")) {
					t.Errorf("Get = %q", got)
				}
				var listed []string
				if err := bkt.Iter(ctx, "a/", func(name string) error {
					listed = append(listed, name)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(listed, []string{"a/b"}) {
					t.Errorf("Iter(a/) = %v", listed)
				}
				if _, err := bkt.Get(ctx, "a/missing"); !bkt.IsObjNotFoundErr(err) {
					t.Errorf("Get of a missing object: %v is not a not-found error", err)
				}
				if tc.onDisk != nil {
					if data, err := os.ReadFile(tc.onDisk(cfg)); err != nil || string(data) != "payload" {
						t.Errorf("object not at %s: %q, %v", tc.onDisk(cfg), data, err)
					}
				}
				mustDelete(t, bkt, "a/b")
			})

			if n, err := testutil.GatherAndCount(reg, "cinder_objstore_bucket_operations_total"); err != nil || n == 0 {
				t.Errorf("bucket not instrumented: %d series, %v", n, err)
			}
		})
	}

	t.Run("construct only", func(t *testing.T) {
		serviceAccount := fakeServiceAccount(t)
		closedPort := closedLocalAddr(t)
		for _, tc := range []struct {
			name     string
			edit     func(c *Config)
			provider objstore.ObjProvider // "" when NewBucket must fail
			err      error                // wanted Validate error, if any
		}{
			{"s3 with keys", func(c *Config) {
				c.Backend, c.S3.BucketName, c.S3.Endpoint = BackendS3, "blocks", "127.0.0.1:9000"
				c.S3.AccessKeyID, c.S3.SecretAccessKey, c.S3.Insecure, c.S3.ForcePathStyle = "k", flagext.SecretWithValue("s"), true, true
			}, objstore.S3, nil},
			{"s3 on AWS with the default chain", func(c *Config) {
				c.Backend, c.S3.BucketName, c.S3.Region = BackendS3, "blocks", "eu-west-1"
			}, objstore.S3, nil},
			{"s3 without bucket", func(c *Config) { c.Backend = BackendS3 }, "", ErrMissingSetting},
			{"s3 endpoint with scheme", func(c *Config) {
				c.Backend, c.S3.BucketName, c.S3.Endpoint = BackendS3, "blocks", "http://127.0.0.1:9000"
			}, "", ErrInvalidSetting},
			{"gcs with service account", func(c *Config) {
				c.Backend, c.GCS.BucketName, c.GCS.ServiceAccount = BackendGCS, "blocks", flagext.SecretWithValue(serviceAccount)
			}, objstore.GCS, nil},
			{"gcs with a malformed service account", func(c *Config) {
				c.Backend, c.GCS.BucketName, c.GCS.ServiceAccount = BackendGCS, "blocks", flagext.SecretWithValue(`{"type": "unknown"}`)
			}, "", nil},
			{"gcs without bucket", func(c *Config) { c.Backend = BackendGCS }, "", ErrMissingSetting},
			{"azure with key", func(c *Config) {
				c.Backend, c.Azure.AccountName, c.Azure.ContainerName = BackendAzure, "acct", "blocks"
				c.Azure.AccountKey = flagext.SecretWithValue("a2V5a2V5a2V5")
			}, objstore.AZURE, nil},
			{"azure with a key that is not base64", func(c *Config) {
				c.Backend, c.Azure.AccountName, c.Azure.ContainerName = BackendAzure, "acct", "blocks"
				c.Azure.AccountKey = flagext.SecretWithValue("not base64!")
			}, "", nil},
			{"azure without container", func(c *Config) { c.Backend, c.Azure.AccountName = BackendAzure, "acct" }, "", ErrMissingSetting},
			{"swift unreachable", func(c *Config) {
				c.Backend, c.Swift.AuthURL, c.Swift.ContainerName = BackendSwift, "http://"+closedPort+"/v1.0", "blocks"
				c.Swift.MaxRetries = 0
			}, "", nil},
			{"swift without auth url", func(c *Config) { c.Backend, c.Swift.ContainerName = BackendSwift, "blocks" }, "", ErrMissingSetting},
			{"unknown backend", func(c *Config) { c.Backend = "ftp" }, "", ErrUnsupportedBackend},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := defaultConfig(t)
				tc.edit(&cfg)
				if err := cfg.Validate(); !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
					t.Fatalf("Validate() = %v, want %v", err, tc.err)
				}
				bkt, err := NewBucket(ctx, cfg, nil, prometheus.NewPedanticRegistry())
				if tc.provider == "" {
					if err == nil {
						t.Fatalf("NewBucket succeeded with %s", bkt.Provider())
					}
					if tc.err != nil && !errors.Is(err, tc.err) {
						t.Errorf("NewBucket error %v does not wrap %v", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("NewBucket: %v", err)
				}
				defer bkt.Close()
				if bkt.Provider() != tc.provider {
					t.Errorf("provider %s, want %s", bkt.Provider(), tc.provider)
				}
			})
		}
	})
}

func TestS3ProviderConfig(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.S3.BucketName, cfg.S3.ForcePathStyle = "b", true
	pc := s3ProviderConfig(cfg.S3)
	if pc.BucketLookupType.String() != "path" || pc.Endpoint != "s3.amazonaws.com" || pc.Bucket != "b" {
		t.Errorf("force-path-style: lookup %s, endpoint %q, bucket %q", pc.BucketLookupType, pc.Endpoint, pc.Bucket)
	}
	pc.PutUserMetadata["x"] = "y"
	if other := s3ProviderConfig(cfg.S3); len(other.PutUserMetadata) != 0 {
		t.Error("provider configs share the metadata map")
	}
	cfg.S3.ForcePathStyle = false
	if pc := s3ProviderConfig(cfg.S3); pc.BucketLookupType.String() != "auto" {
		t.Errorf("default lookup %s, want auto", pc.BucketLookupType)
	}
}

func TestKitLoggerLevels(t *testing.T) {
	logs := newLogRecorder()
	l := kitLogger{slog.New(logs)}
	_ = l.Log("level", levelValue("debug"), "msg", "d", "k", 1)
	_ = l.Log("level", levelValue("warn"), "msg", "w")
	_ = l.Log("level", levelValue("error"), "msg", "e")
	_ = l.Log("msg", "i", "dangling")
	for lvl, want := range map[slog.Level]int{slog.LevelDebug: 1, slog.LevelWarn: 1, slog.LevelError: 1, slog.LevelInfo: 1} {
		if got := logs.count(lvl); got != want {
			t.Errorf("level %s: %d records, want %d", lvl, got, want)
		}
	}
	if logs.count(slog.LevelDebug, "k", "1") != 1 {
		t.Error("key-value pairs not carried over")
	}
}

// levelValue mimics go-kit's level values, which are fmt.Stringers.
type levelValue string

func (l levelValue) String() string { return string(l) }

// fakeServiceAccount returns a syntactically valid GCS service-account key
// that no server knows.
func fakeServiceAccount(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "cinder-test",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "cinder@cinder-test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(sa)
}

// closedLocalAddr returns a loopback address that refuses connections.
func closedLocalAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
