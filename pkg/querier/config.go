package querier

import (
	"flag"
	"time"
)

// Config holds the query limits and the tenancy mode of the service.
type Config struct {
	MultitenancyEnabled bool          `yaml:"multitenancy_enabled"`
	MaxQueryLookback    time.Duration `yaml:"max_query_lookback"`
	MaxQueryLength      time.Duration `yaml:"max_query_length"`
	MaxRequestBytes     int           `yaml:"max_request_bytes"`
	MaxSeriesPoints     int           `yaml:"max_series_points"`
}

// RegisterFlags registers the service's flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.BoolVar(&c.MultitenancyEnabled, "auth.multitenancy-enabled", false,
		"Require the X-Scope-OrgID header and serve each tenant its own blocks. When false every request is tenant \""+DefaultTenant+"\".")
	f.DurationVar(&c.MaxQueryLookback, "querier.max-query-lookback", 0,
		"Answer nothing older than this before now (0 = no limit). Queries ending before it get an empty result; older starts are clamped.")
	f.DurationVar(&c.MaxQueryLength, "querier.max-query-length", 0,
		"Reject queries whose time range is longer than this (0 = no limit).")
	f.IntVar(&c.MaxRequestBytes, "querier.max-request-bytes", 1<<20,
		"Reject decoded requests larger than this many bytes with invalid_argument.")
	f.IntVar(&c.MaxSeriesPoints, "querier.max-series-points", 1_000_000,
		"Refuse SelectSeries queries whose range and step make more points per series than this (0 = no limit).")
}
