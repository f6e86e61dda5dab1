// Package pprofwire encodes googlev1.Profile, the pprof message
// SelectMergeProfile answers with, in protobuf's wire format, byte for byte
// as proto.Marshal does, but faster: the samples, which are most of a merged
// profile, are encoded by hand instead of through protobuf's reflection,
// and disjoint ranges of the repeated fields are encoded on all cores into
// their places in one buffer.
//
// It relies on the wire format's rule that a message's encoding is the
// concatenation of its fields' encodings, in field-number order as
// proto.Marshal writes them, and a repeated field's that of its elements.
// It owns nothing but the encoding: it must not know how a profile is
// built or which protocol carries it.
package pprofwire
