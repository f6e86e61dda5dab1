// Package querier implements querier.v1.QuerierService and Pyroscope's
// legacy /pyroscope/* HTTP API over the blocks that package bucket keeps in
// sync: request validation, tenancy, block planning and deduplication, the
// scans of each block's profiles, and the translation of errors into
// Connect/gRPC codes at the API edge (in one place, errors.go).
//
// It composes the readers (blockreader, symdb, selector) and the output
// shapes of flamegraph; none of them import it.
package querier
