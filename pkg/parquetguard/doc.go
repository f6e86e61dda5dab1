// Package parquetguard checks the thrift structures of a parquet file (its
// footer, page headers, column and offset indexes) before parquet-go decodes
// them, so that a corrupt or hostile file cannot make the decoder allocate
// more than the file's own size or recurse without bound.
//
// It owns the walk of thrift's compact protocol and the limits it enforces.
// It must not know which structure it is given, what a column or a block is,
// nor the errors of the readers that use it (blockreader, symdb): they wrap
// ErrShort and ErrMalformed with the file and the structure being read.
package parquetguard
