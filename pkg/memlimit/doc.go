// Package memlimit keeps the Go garbage collector's soft memory limit a
// bounded headroom above the live heap, so that memory the process keeps
// on purpose (decoded-partition and byte caches, pooled buffers) is not
// doubled by the collector's default pacing, which lets the heap grow to
// twice what was live at the last collection before collecting again.
//
// It owns the process's memory limit while it runs, and knows nothing of
// what the heap holds.
package memlimit
