// Package querier implements querier.v1.QuerierService over the blocks that
// package bucket keeps in sync: request validation, tenancy, and the
// translation of errors into Connect/gRPC codes at the API edge.
package querier
