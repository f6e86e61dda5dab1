package bucket

import (
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
)

func TestTenantFromEntry(t *testing.T) {
	for _, tc := range []struct {
		entry  string
		tenant string
		ok     bool
	}{
		{"anonymous/", "anonymous", true},
		{"team-a_1.prod/", "team-a_1.prod", true},
		{"anonymous", "", false}, // an object, not a directory
		{"tenants.json/", "", false},
		{"bucket-index.json", "", false},
		{"__pyroscope_cluster/", "", false},
		{"bad tenant/", "", false},
		{"a|b/", "", false},
		{"../", "", false},
		{"./", "", false},
		{"/", "", false},
		{strings.Repeat("a", 151) + "/", "", false},
		{strings.Repeat("a", 150) + "/", strings.Repeat("a", 150), true},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			tenant, ok := tenantFromEntry(tc.entry)
			if tenant != tc.tenant || ok != tc.ok {
				t.Errorf("tenantFromEntry(%q) = %q, %v; want %q, %v", tc.entry, tenant, ok, tc.tenant, tc.ok)
			}
		})
	}
}

func TestBlockIDFromEntry(t *testing.T) {
	const dir = "anonymous/phlaredb/"
	id := ulid.MustParse(fixtureV1)
	for _, tc := range []struct {
		entry string
		ok    bool
	}{
		{dir + fixtureV1 + "/", true},
		{dir + fixtureV1, false}, // an object
		{dir + strings.ToLower(fixtureV1) + "/", false},
		{dir + "markers/", false},
		{dir + "bucket-index.json.gz", false},
		{dir + fixtureV1 + "x/", false},
		{dir + "ZZZZZZZZZZZZZZZZZZZZZZZZZZ/", false},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			got, ok := blockIDFromEntry(dir, tc.entry)
			if ok != tc.ok || (ok && got != id) {
				t.Errorf("blockIDFromEntry(%q) = %s, %v", tc.entry, got, ok)
			}
		})
	}
}

func TestParseMarkerEntry(t *testing.T) {
	const dir = "anonymous/phlaredb/markers/"
	id := ulid.MustParse(fixtureV2)
	for _, tc := range []struct {
		entry string
		kind  globalMarkEntry
	}{
		{dir + fixtureV2 + "-deletion-mark.json", blockDeletionMarker},
		{dir + fixtureV2 + "-no-compact-mark.json", otherMarker},
		{dir + "tenant-deletion-mark.json", tenantDeletionMarker},
		{dir + strings.ToLower(fixtureV2) + "-deletion-mark.json", otherMarker},
		{dir + "deletion-mark.json", otherMarker},
		{dir + "x-deletion-mark.json", otherMarker},
		{dir + "sub/", otherMarker},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			kind, got := parseMarkerEntry(dir, tc.entry)
			if kind != tc.kind || (kind == blockDeletionMarker && got != id) {
				t.Errorf("parseMarkerEntry(%q) = %v, %s", tc.entry, kind, got)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	id := ulid.MustParse(fixtureV1)
	for got, want := range map[string]string{
		tenantBlocksDir("t"):  "t/phlaredb/",
		tenantMarkersDir("t"): "t/phlaredb/markers/",
		blockDir("t", id):     "t/phlaredb/" + fixtureV1,
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
