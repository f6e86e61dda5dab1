// Package integration holds end-to-end tests: they build the querier binary,
// start it on real buckets and call it as real clients do, over Connect with
// JSON and protobuf and over gRPC, comparing answers with the golden answers
// that Grafana Pyroscope gave on the same blocks.
package integration
