package bucket

import (
	"strings"

	"github.com/grafana/dskit/tenant"
	"github.com/oklog/ulid/v2"
)

// Object names of the v1 bucket layout (block-format.md §2). Directory
// names passed to Iter always end in "/": without it some providers match
// every key starting with the name ("anonymous/phlaredb" would also list
// "anonymous/phlaredb2/").
const (
	// phlareDBDir is the sub-prefix under each tenant that holds v1 blocks.
	phlareDBDir = "phlaredb"
	// markersDir holds the global copies of block markers and the tenant
	// deletion mark, directly under phlareDBDir.
	markersDir = "markers"
	// clusterDir is a reserved top-level name that is not a tenant.
	clusterDir = "__pyroscope_cluster"

	indexFilename              = "index.tsdb"
	deletionMarkFilename       = "deletion-mark.json"
	globalDeletionMarkSuffix   = "-" + deletionMarkFilename
	tenantDeletionMarkFilename = "tenant-deletion-mark.json"
)

// validTenantID reports whether s is a tenant ID that the API could have
// accepted, and therefore whether a top-level directory can be a tenant.
func validTenantID(s string) bool {
	return s != "" && tenant.ValidTenantID(s) == nil
}

// tenantFromEntry returns the tenant whose directory a top-level listing
// entry names. Objects, names ending in .json, the reserved cluster directory
// and names that are not valid tenant IDs are not tenants.
func tenantFromEntry(name string) (string, bool) {
	dir, isDir := strings.CutSuffix(name, "/")
	if !isDir || strings.HasSuffix(dir, ".json") || dir == clusterDir || !validTenantID(dir) {
		return "", false
	}
	return dir, true
}

// tenantBlocksDir is the directory that holds a tenant's block directories.
func tenantBlocksDir(tenant string) string {
	return tenant + "/" + phlareDBDir + "/"
}

// tenantMarkersDir is the directory of a tenant's global markers.
func tenantMarkersDir(tenant string) string {
	return tenant + "/" + phlareDBDir + "/" + markersDir + "/"
}

// blockDir is a block's object prefix, without a trailing slash.
func blockDir(tenant string, id ulid.ULID) string {
	return tenant + "/" + phlareDBDir + "/" + id.String()
}

// blockIDFromEntry returns the ULID of a block directory listed under dir.
// Anything else in dir (markers/, the bucket index, stray names) is ignored.
// NOTE: only the canonical upper-case spelling is accepted, so that
// blockDir(tenant, id) names the listed directory exactly.
func blockIDFromEntry(dir, name string) (ulid.ULID, bool) {
	base, isDir := strings.CutSuffix(strings.TrimPrefix(name, dir), "/")
	if !isDir {
		return ulid.ULID{}, false
	}
	id, err := ulid.ParseStrict(base)
	if err != nil || id.String() != base {
		return ulid.ULID{}, false
	}
	return id, true
}

// globalMarkEntry is one object listed in a tenant's markers directory.
type globalMarkEntry int

const (
	otherMarker globalMarkEntry = iota
	blockDeletionMarker
	tenantDeletionMarker
)

// parseMarkerEntry classifies an object listed in a tenant's markers
// directory; for a block deletion mark it also returns the block ULID.
// No-compact marks and unknown names are otherMarker.
func parseMarkerEntry(dir, name string) (globalMarkEntry, ulid.ULID) {
	base := strings.TrimPrefix(name, dir)
	if base == tenantDeletionMarkFilename {
		return tenantDeletionMarker, ulid.ULID{}
	}
	idStr, ok := strings.CutSuffix(base, globalDeletionMarkSuffix)
	if !ok {
		return otherMarker, ulid.ULID{}
	}
	id, err := ulid.ParseStrict(idStr)
	if err != nil || id.String() != idStr {
		return otherMarker, ulid.ULID{}
	}
	return blockDeletionMarker, id
}
