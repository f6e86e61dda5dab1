// Package bucket owns the object-storage side of Cinder: building an
// objstore bucket from configuration, discovering tenants and their blocks,
// honouring deletion markers, keeping an up-to-date, validated view of every
// tenant's blocks in the background and choosing the blocks that overlap a
// query's time range.
//
// It knows block layout (paths, markers, meta.json) through blockreader but
// nothing about the query API.
package bucket
