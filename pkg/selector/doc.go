// Package selector turns what a query says into what an index can answer:
// profile type IDs, Prometheus-style label selectors and their matchers, and
// the series references of one block that those matchers select.
//
// It reads indexes through blockreader and knows nothing about the API or
// buckets.
package selector
