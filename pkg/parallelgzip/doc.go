// Package parallelgzip writes gzip streams whose large writes are
// compressed on all cores: a write of many chunks is deflated chunk by chunk
// on GOMAXPROCS goroutines, each chunk ending in a sync flush, and the
// chunks are written out in order. The stream is still a single gzip member
// of a single deflate stream, so any gzip reader decodes it, including ones
// that stop after the first member.
//
// It owns the gzip framing (header, CRC-32 and size trailer) and the order
// of the compressed chunks. It must not know what the bytes are or who sends
// them; Writer fits connect.Compressor, and the querier registers it.
package parallelgzip
