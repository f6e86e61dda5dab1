package bucket

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/grafana/dskit/flagext"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
)

// Storage backends that NewBucket can build.
const (
	BackendFilesystem = "filesystem"
	BackendS3         = "s3"
	BackendGCS        = "gcs"
	BackendAzure      = "azure"
	BackendSwift      = "swift"
)

// SupportedBackends lists every value -storage.backend accepts.
var SupportedBackends = []string{BackendFilesystem, BackendS3, BackendGCS, BackendAzure, BackendSwift}

// Errors that Config.Validate returns, wrapped with the offending setting.
var (
	ErrUnsupportedBackend = errors.New("unsupported storage backend")
	ErrInvalidPrefix      = errors.New("invalid storage prefix")
	ErrMissingSetting     = errors.New("missing required storage setting")
	ErrInvalidSetting     = errors.New("invalid storage setting")
)

// Config selects and configures the object-storage backend that holds the
// blocks. Its zero value is not usable: call RegisterFlags on a FlagSet
// first to install the defaults, then optionally overlay YAML.
type Config struct {
	Backend string `yaml:"backend"`
	// Prefix is an optional sub-path inside the bucket under which the
	// tenants live, e.g. "pyroscope" for <bucket>/pyroscope/<tenant>/phlaredb.
	Prefix string `yaml:"prefix"`

	Filesystem FilesystemConfig `yaml:"filesystem"`
	S3         S3Config         `yaml:"s3"`
	GCS        GCSConfig        `yaml:"gcs"`
	Azure      AzureConfig      `yaml:"azure"`
	Swift      SwiftConfig      `yaml:"swift"`
}

// RegisterFlags registers the -storage.* flags and sets their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	const prefix = "storage."
	f.StringVar(&c.Backend, prefix+"backend", BackendFilesystem,
		fmt.Sprintf("Backend storage to use. Supported backends are: %s.", strings.Join(SupportedBackends, ", ")))
	f.StringVar(&c.Prefix, prefix+"prefix", "",
		"Prefix inside the bucket under which the tenant directories live. Empty means the bucket root.")
	c.Filesystem.registerFlags(prefix+"filesystem.", f)
	c.S3.registerFlags(prefix+"s3.", f)
	c.GCS.registerFlags(prefix+"gcs.", f)
	c.Azure.registerFlags(prefix+"azure.", f)
	c.Swift.registerFlags(prefix+"swift.", f)
}

// LocalDirectory is the directory in which the filesystem backend keeps
// the objects the bucket lists (its directory, joined with the prefix), or
// "" for another backend.
func (c *Config) LocalDirectory() string {
	if c.Backend != BackendFilesystem {
		return ""
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		return filepath.Join(c.Filesystem.Directory, filepath.FromSlash(p))
	}
	return c.Filesystem.Directory
}

// Validate checks the settings of the selected backend only; the others may
// hold anything.
func (c *Config) Validate() error {
	if p := strings.Trim(c.Prefix, "/"); p != "" && !blockreader.ValidRelPath(p) {
		return fmt.Errorf("%w %q: must be a clean relative path without . or .. elements", ErrInvalidPrefix, c.Prefix)
	}
	switch c.Backend {
	case BackendFilesystem:
		return c.Filesystem.Validate()
	case BackendS3:
		return c.S3.Validate()
	case BackendGCS:
		return c.GCS.Validate()
	case BackendAzure:
		return c.Azure.Validate()
	case BackendSwift:
		return c.Swift.Validate()
	default:
		return fmt.Errorf("%w %q (supported: %s)", ErrUnsupportedBackend, c.Backend, strings.Join(SupportedBackends, ", "))
	}
}

// FilesystemConfig configures a bucket that is a local directory.
type FilesystemConfig struct {
	Directory string `yaml:"dir"`
}

func (c *FilesystemConfig) registerFlags(prefix string, f *flag.FlagSet) {
	f.StringVar(&c.Directory, prefix+"dir", "./examples/bucket", "Local directory used as the bucket root.")
}

// Validate checks the filesystem settings.
func (c *FilesystemConfig) Validate() error {
	if c.Directory == "" {
		return fmt.Errorf("%w: -storage.filesystem.dir", ErrMissingSetting)
	}
	return nil
}

// S3Config configures an S3 or S3-compatible (MinIO, Ceph RGW, R2, ...)
// bucket.
type S3Config struct {
	// Endpoint is host[:port] without a scheme. Empty means AWS:
	// s3.<region>.amazonaws.com, or s3.amazonaws.com without a region.
	Endpoint        string         `yaml:"endpoint"`
	BucketName      string         `yaml:"bucket_name"`
	Region          string         `yaml:"region"`
	AccessKeyID     string         `yaml:"access_key_id"`
	SecretAccessKey flagext.Secret `yaml:"secret_access_key"`
	SessionToken    flagext.Secret `yaml:"session_token"`
	// Insecure selects plain HTTP instead of HTTPS.
	Insecure bool `yaml:"insecure"`
	// ForcePathStyle addresses the bucket as <endpoint>/<bucket> instead of
	// <bucket>.<endpoint>; most self-hosted S3 implementations need it.
	ForcePathStyle bool `yaml:"force_path_style"`
	// NativeAWSAuth uses the AWS SDK's default credential chain (env, shared
	// config, web identity, IMDS) instead of static keys.
	NativeAWSAuth bool `yaml:"native_aws_auth_enabled"`
	MaxRetries    int  `yaml:"max_retries"`
}

func (c *S3Config) registerFlags(prefix string, f *flag.FlagSet) {
	f.StringVar(&c.Endpoint, prefix+"endpoint", "", "S3 endpoint as host[:port], without a scheme. Empty means AWS (s3.<region>.amazonaws.com).")
	f.StringVar(&c.BucketName, prefix+"bucket-name", "", "S3 bucket name.")
	f.StringVar(&c.Region, prefix+"region", "", "S3 region. Empty lets the client discover it.")
	f.StringVar(&c.AccessKeyID, prefix+"access-key-id", "", "S3 access key ID. Empty uses credentials from the environment, the AWS shared files or IAM.")
	f.Var(&c.SecretAccessKey, prefix+"secret-access-key", "S3 secret access key.")
	f.Var(&c.SessionToken, prefix+"session-token", "S3 session token for temporary credentials.")
	f.BoolVar(&c.Insecure, prefix+"insecure", false, "Use plain HTTP instead of HTTPS to reach the S3 endpoint.")
	f.BoolVar(&c.ForcePathStyle, prefix+"force-path-style", false, "Use path-style bucket addressing (<endpoint>/<bucket>) instead of virtual-hosted style.")
	f.BoolVar(&c.NativeAWSAuth, prefix+"native-aws-auth-enabled", false, "Use the AWS SDK default credential chain instead of static keys.")
	f.IntVar(&c.MaxRetries, prefix+"max-retries", 10, "Maximum number of retries of one S3 request.")
}

// Validate checks the S3 settings.
func (c *S3Config) Validate() error {
	if c.BucketName == "" {
		return fmt.Errorf("%w: -storage.s3.bucket-name", ErrMissingSetting)
	}
	if strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/") {
		return fmt.Errorf("%w: -storage.s3.endpoint %q must be host[:port] without scheme or path (use -storage.s3.insecure for HTTP)", ErrInvalidSetting, c.Endpoint)
	}
	secret := c.SecretAccessKey.String() != ""
	switch {
	case c.AccessKeyID != "" && !secret:
		return fmt.Errorf("%w: -storage.s3.secret-access-key is required with -storage.s3.access-key-id", ErrMissingSetting)
	case c.AccessKeyID == "" && secret:
		return fmt.Errorf("%w: -storage.s3.access-key-id is required with -storage.s3.secret-access-key", ErrMissingSetting)
	case c.NativeAWSAuth && c.AccessKeyID != "":
		return fmt.Errorf("%w: -storage.s3.native-aws-auth-enabled and -storage.s3.access-key-id are mutually exclusive", ErrInvalidSetting)
	case c.MaxRetries < 0:
		return fmt.Errorf("%w: -storage.s3.max-retries must not be negative", ErrInvalidSetting)
	}
	return nil
}

// endpoint returns the configured endpoint or the AWS default for the region.
func (c *S3Config) endpoint() string {
	switch {
	case c.Endpoint != "":
		return c.Endpoint
	case c.Region != "":
		return "s3." + c.Region + ".amazonaws.com"
	default:
		return "s3.amazonaws.com"
	}
}

// GCSConfig configures a Google Cloud Storage bucket.
type GCSConfig struct {
	BucketName string `yaml:"bucket_name"`
	// ServiceAccount is the JSON key of a service account. Empty means
	// Google's application default credentials.
	ServiceAccount flagext.Secret `yaml:"service_account"`
	MaxRetries     int            `yaml:"max_retries"`
}

func (c *GCSConfig) registerFlags(prefix string, f *flag.FlagSet) {
	f.StringVar(&c.BucketName, prefix+"bucket-name", "", "GCS bucket name.")
	f.Var(&c.ServiceAccount, prefix+"service-account", "JSON key of the GCS service account (the file's contents, not its path). Empty uses the application default credentials.")
	f.IntVar(&c.MaxRetries, prefix+"max-retries", 0, "Maximum number of attempts of one idempotent GCS request. 0 keeps the client's default.")
}

// Validate checks the GCS settings.
func (c *GCSConfig) Validate() error {
	if c.BucketName == "" {
		return fmt.Errorf("%w: -storage.gcs.bucket-name", ErrMissingSetting)
	}
	if sa := c.ServiceAccount.String(); sa != "" && !json.Valid([]byte(sa)) {
		return fmt.Errorf("%w: -storage.gcs.service-account must be the JSON key itself, not a path", ErrInvalidSetting)
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("%w: -storage.gcs.max-retries must not be negative", ErrInvalidSetting)
	}
	return nil
}

// AzureConfig configures an Azure Blob Storage container.
type AzureConfig struct {
	AccountName string         `yaml:"account_name"`
	AccountKey  flagext.Secret `yaml:"account_key"`
	// ConnectionString replaces AccountKey and EndpointSuffix when set.
	ConnectionString flagext.Secret `yaml:"connection_string"`
	ContainerName    string         `yaml:"container_name"`
	EndpointSuffix   string         `yaml:"endpoint_suffix"`
	// UserAssignedID is the client ID of a user-assigned managed identity.
	UserAssignedID string `yaml:"user_assigned_id"`
	MaxRetries     int    `yaml:"max_retries"`
}

func (c *AzureConfig) registerFlags(prefix string, f *flag.FlagSet) {
	f.StringVar(&c.AccountName, prefix+"account-name", "", "Azure storage account name.")
	f.Var(&c.AccountKey, prefix+"account-key", "Azure storage account key. Empty uses a managed identity or the default Azure credential chain.")
	f.Var(&c.ConnectionString, prefix+"connection-string", "Azure storage connection string, instead of the account key and endpoint suffix.")
	f.StringVar(&c.ContainerName, prefix+"container-name", "", "Azure blob container name.")
	f.StringVar(&c.EndpointSuffix, prefix+"endpoint-suffix", "blob.core.windows.net", "Azure blob endpoint suffix; the account name is prepended to it.")
	f.StringVar(&c.UserAssignedID, prefix+"user-assigned-id", "", "Client ID of a user-assigned managed identity.")
	f.IntVar(&c.MaxRetries, prefix+"max-retries", 3, "Maximum number of retries of one Azure request.")
}

// Validate checks the Azure settings.
func (c *AzureConfig) Validate() error {
	switch {
	case c.AccountName == "":
		return fmt.Errorf("%w: -storage.azure.account-name", ErrMissingSetting)
	case c.ContainerName == "":
		return fmt.Errorf("%w: -storage.azure.container-name", ErrMissingSetting)
	case c.EndpointSuffix == "" && c.ConnectionString.String() == "":
		return fmt.Errorf("%w: -storage.azure.endpoint-suffix", ErrMissingSetting)
	case c.AccountKey.String() != "" && c.ConnectionString.String() != "":
		return fmt.Errorf("%w: -storage.azure.account-key and -storage.azure.connection-string are mutually exclusive", ErrInvalidSetting)
	case c.UserAssignedID != "" && (c.AccountKey.String() != "" || c.ConnectionString.String() != ""):
		return fmt.Errorf("%w: -storage.azure.user-assigned-id cannot be combined with a key or connection string", ErrInvalidSetting)
	case c.MaxRetries < 0:
		return fmt.Errorf("%w: -storage.azure.max-retries must not be negative", ErrInvalidSetting)
	}
	return nil
}

// SwiftConfig configures an OpenStack Swift container.
type SwiftConfig struct {
	// AuthVersion is the Keystone API version (1, 2 or 3); 0 detects it
	// from AuthURL.
	AuthVersion       int            `yaml:"auth_version"`
	AuthURL           string         `yaml:"auth_url"`
	Username          string         `yaml:"username"`
	UserDomainName    string         `yaml:"user_domain_name"`
	UserDomainID      string         `yaml:"user_domain_id"`
	UserID            string         `yaml:"user_id"`
	Password          flagext.Secret `yaml:"password"`
	DomainID          string         `yaml:"domain_id"`
	DomainName        string         `yaml:"domain_name"`
	ProjectID         string         `yaml:"project_id"`
	ProjectName       string         `yaml:"project_name"`
	ProjectDomainID   string         `yaml:"project_domain_id"`
	ProjectDomainName string         `yaml:"project_domain_name"`
	RegionName        string         `yaml:"region_name"`
	ContainerName     string         `yaml:"container_name"`
	MaxRetries        int            `yaml:"max_retries"`
	ConnectTimeout    time.Duration  `yaml:"connect_timeout"`
	RequestTimeout    time.Duration  `yaml:"request_timeout"`
}

func (c *SwiftConfig) registerFlags(prefix string, f *flag.FlagSet) {
	f.IntVar(&c.AuthVersion, prefix+"auth-version", 0, "OpenStack authentication API version (1, 2 or 3). 0 detects it from the URL.")
	f.StringVar(&c.AuthURL, prefix+"auth-url", "", "OpenStack authentication (Keystone) URL.")
	f.StringVar(&c.Username, prefix+"username", "", "OpenStack user name.")
	f.StringVar(&c.UserDomainName, prefix+"user-domain-name", "", "OpenStack user's domain name.")
	f.StringVar(&c.UserDomainID, prefix+"user-domain-id", "", "OpenStack user's domain ID.")
	f.StringVar(&c.UserID, prefix+"user-id", "", "OpenStack user ID.")
	f.Var(&c.Password, prefix+"password", "OpenStack API key or password.")
	f.StringVar(&c.DomainID, prefix+"domain-id", "", "OpenStack domain ID (v3 authentication).")
	f.StringVar(&c.DomainName, prefix+"domain-name", "", "OpenStack domain name (v3 authentication).")
	f.StringVar(&c.ProjectID, prefix+"project-id", "", "OpenStack project (tenant) ID.")
	f.StringVar(&c.ProjectName, prefix+"project-name", "", "OpenStack project (tenant) name.")
	f.StringVar(&c.ProjectDomainID, prefix+"project-domain-id", "", "ID of the project's domain.")
	f.StringVar(&c.ProjectDomainName, prefix+"project-domain-name", "", "Name of the project's domain.")
	f.StringVar(&c.RegionName, prefix+"region-name", "", "OpenStack region. Empty uses the first one the catalogue lists.")
	f.StringVar(&c.ContainerName, prefix+"container-name", "", "Swift container name.")
	f.IntVar(&c.MaxRetries, prefix+"max-retries", 3, "Maximum number of retries of one Swift request.")
	f.DurationVar(&c.ConnectTimeout, prefix+"connect-timeout", 10*time.Second, "Time limit for establishing a connection to Swift.")
	f.DurationVar(&c.RequestTimeout, prefix+"request-timeout", 5*time.Minute, "Time limit for one Swift request, including reading the body.")
}

// Validate checks the Swift settings.
func (c *SwiftConfig) Validate() error {
	switch {
	case c.AuthURL == "":
		return fmt.Errorf("%w: -storage.swift.auth-url", ErrMissingSetting)
	case c.ContainerName == "":
		return fmt.Errorf("%w: -storage.swift.container-name", ErrMissingSetting)
	case c.AuthVersion < 0 || c.AuthVersion > 3:
		return fmt.Errorf("%w: -storage.swift.auth-version must be 0, 1, 2 or 3", ErrInvalidSetting)
	case c.MaxRetries < 0:
		return fmt.Errorf("%w: -storage.swift.max-retries must not be negative", ErrInvalidSetting)
	}
	return nil
}
