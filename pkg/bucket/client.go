package bucket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/azure"
	"github.com/thanos-io/objstore/providers/filesystem"
	"github.com/thanos-io/objstore/providers/gcs"
	"github.com/thanos-io/objstore/providers/s3"
	"github.com/thanos-io/objstore/providers/swift"
)

// component names Cinder to the providers (user agent) and labels the
// objstore operation metrics (bucket="cinder").
const component = "cinder"

// NewBucket builds the bucket that cfg selects, scoped to cfg.Prefix and
// instrumented: every operation is counted and timed in the
// cinder_objstore_bucket_* metrics registered with reg (nil registers
// nothing).
//
// Building never reads or writes objects, but some backends talk to the
// service: Swift authenticates, and GCS without a service account looks up
// the application default credentials. The Azure container is never created.
// The querier only reads; the full Bucket is returned so that tools and tests
// can upload.
func NewBucket(ctx context.Context, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (objstore.Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kit := kitLogger{logger.With("component", "objstore", "backend", cfg.Backend)}

	var (
		bkt objstore.Bucket
		err error
	)
	switch cfg.Backend {
	case BackendFilesystem:
		if _, statErr := os.Stat(cfg.Filesystem.Directory); errors.Is(statErr, fs.ErrNotExist) {
			// The filesystem bucket lists a missing directory as empty, which
			// would otherwise look like a bucket without tenants.
			logger.Warn("bucket directory does not exist; serving no blocks until it does", "dir", cfg.Filesystem.Directory)
		}
		bkt, err = filesystem.NewBucket(cfg.Filesystem.Directory)
	case BackendS3:
		bkt, err = s3.NewBucketWithConfig(kit, s3ProviderConfig(cfg.S3), component, nil)
	case BackendGCS:
		bkt, err = gcs.NewBucketWithConfig(ctx, kit, gcsProviderConfig(cfg.GCS), component, nil)
	case BackendAzure:
		bkt, err = azure.NewBucketWithConfig(kit, azureProviderConfig(cfg.Azure), component, nil)
	case BackendSwift:
		bkt, err = swift.NewContainerFromConfig(kit, swiftProviderConfig(cfg.Swift), false, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s bucket: %w", cfg.Backend, err)
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		bkt = objstore.NewPrefixedBucket(bkt, p)
	}
	return objstore.WrapWithMetrics(bkt, prometheus.WrapRegistererWithPrefix("cinder_", reg), component), nil
}

func s3ProviderConfig(c S3Config) s3.Config {
	pc := s3.DefaultConfig
	// DefaultConfig's map is shared by every copy and the provider edits it.
	pc.PutUserMetadata = map[string]string{}
	pc.Bucket = c.BucketName
	pc.Endpoint = c.endpoint()
	pc.Region = c.Region
	pc.AccessKey = c.AccessKeyID
	pc.SecretKey = c.SecretAccessKey.String()
	pc.SessionToken = c.SessionToken.String()
	pc.Insecure = c.Insecure
	pc.AWSSDKAuth = c.NativeAWSAuth
	pc.MaxRetries = c.MaxRetries
	pc.BucketLookupType = s3.AutoLookup
	if c.ForcePathStyle {
		pc.BucketLookupType = s3.PathLookup
	}
	return pc
}

func gcsProviderConfig(c GCSConfig) gcs.Config {
	pc := gcs.DefaultConfig
	pc.Bucket = c.BucketName
	pc.ServiceAccount = c.ServiceAccount.String()
	pc.MaxRetries = c.MaxRetries
	return pc
}

func azureProviderConfig(c AzureConfig) azure.Config {
	pc := azure.DefaultConfig
	// A querier must not create containers; a missing one is a configuration
	// error that the first listing reports.
	pc.StorageCreateContainer = false
	pc.StorageAccountName = c.AccountName
	pc.StorageAccountKey = c.AccountKey.String()
	pc.StorageConnectionString = c.ConnectionString.String()
	pc.ContainerName = c.ContainerName
	pc.Endpoint = c.EndpointSuffix
	pc.UserAssignedID = c.UserAssignedID
	pc.MaxRetries = c.MaxRetries
	pc.PipelineConfig.MaxTries = int32(c.MaxRetries)
	pc.ReaderConfig.MaxRetryRequests = c.MaxRetries
	return pc
}

func swiftProviderConfig(c SwiftConfig) *swift.Config {
	pc := swift.DefaultConfig
	pc.AuthVersion = c.AuthVersion
	pc.AuthUrl = c.AuthURL
	pc.Username = c.Username
	pc.UserDomainName = c.UserDomainName
	pc.UserDomainID = c.UserDomainID
	pc.UserId = c.UserID
	pc.Password = c.Password.String()
	pc.DomainId = c.DomainID
	pc.DomainName = c.DomainName
	pc.ProjectID = c.ProjectID
	pc.ProjectName = c.ProjectName
	pc.ProjectDomainID = c.ProjectDomainID
	pc.ProjectDomainName = c.ProjectDomainName
	pc.RegionName = c.RegionName
	pc.ContainerName = c.ContainerName
	pc.Retries = c.MaxRetries
	pc.ConnectTimeout = model.Duration(c.ConnectTimeout)
	pc.Timeout = model.Duration(c.RequestTimeout)
	return &pc
}

// kitLogger lets the objstore providers, which log through go-kit's
// Log(keyvals...) interface, write to a slog.Logger.
type kitLogger struct{ l *slog.Logger }

func (k kitLogger) Log(keyvals ...any) error {
	lvl := slog.LevelInfo
	msg := ""
	attrs := make([]any, 0, len(keyvals))
	for i := 0; i+1 < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		switch key {
		case "level":
			switch fmt.Sprint(keyvals[i+1]) {
			case "debug":
				lvl = slog.LevelDebug
			case "warn":
				lvl = slog.LevelWarn
			case "error":
				lvl = slog.LevelError
			}
		case "msg":
			msg = fmt.Sprint(keyvals[i+1])
		default:
			attrs = append(attrs, key, keyvals[i+1])
		}
	}
	k.l.Log(context.Background(), lvl, msg, attrs...)
	return nil
}
