// Package proto holds Cinder's wire contract: the .proto sources of the
// querier.v1, types.v1 and google.v1 packages and the Go code generated from
// them (by `make proto`, never by hand) in the sub-packages querierv1,
// querierv1connect, typesv1 and googlev1.
//
// NOTE: every package, service, method, message, field and enum name, every
// field number and type, and every `optional` marker is identical to Grafana
// Pyroscope v1.21.1, so that existing clients (Grafana, the Pyroscope UI,
// profilecli) and their protojson field names keep working. wire_test.go
// checks this against Pyroscope's recorded answers.
//
// This package itself has no code; it knows nothing about blocks or queries.
package proto
