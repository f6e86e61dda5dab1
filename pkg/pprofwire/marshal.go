package pprofwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// Range sizes, in elements, of the segments that are encoded in parallel:
// a few hundred KB of output each.
const (
	samplesPerSegment   = 8 << 10
	messagesPerSegment  = 8 << 10 // locations, functions
	stringsPerSegment   = 32 << 10
	minParallelElements = 16 << 10 // below, one goroutine does it all
)

// Protobuf tags of the fields encoded by hand (field number << 3 | wire type).
const (
	tagProfileSample    = 2<<3 | byte(protowire.BytesType)
	tagSampleLocationID = 1<<3 | byte(protowire.BytesType)
	tagSampleValue      = 2<<3 | byte(protowire.BytesType)
	tagSampleLabel      = 3<<3 | byte(protowire.BytesType)
	tagLabelKey         = 1<<3 | byte(protowire.VarintType)
	tagLabelStr         = 2<<3 | byte(protowire.VarintType)
	tagLabelNum         = 3<<3 | byte(protowire.VarintType)
	tagLabelNumUnit     = 4<<3 | byte(protowire.VarintType)
)

// errUnknownFields reports a message with unknown fields, which proto
// writes after the known ones: such profiles are left to proto.
var errUnknownFields = errors.New("pprofwire: unknown fields")

// MarshalAppend appends the wire encoding of p to dst, the same bytes as
// proto.MarshalOptions{}.MarshalAppend, using up to GOMAXPROCS goroutines.
// NOTE: p and its messages must not change meanwhile: their sizes are
// computed once, cached in the messages (as proto.Size does), and used to
// place every range's encoding.
func MarshalAppend(dst []byte, p *googlev1.Profile) ([]byte, error) {
	return marshalAppend(dst, p, runtime.GOMAXPROCS(0))
}

func marshalAppend(dst []byte, p *googlev1.Profile, procs int) ([]byte, error) {
	if p == nil || hasUnknown(p) {
		return proto.MarshalOptions{}.MarshalAppend(dst, p)
	}
	segs := segments(p)
	if len(p.Sample)+len(p.Location)+len(p.Function) < minParallelElements {
		procs = 1
	}
	if err := run(segs, procs, (*segment).size); errors.Is(err, errUnknownFields) {
		return proto.MarshalOptions{}.MarshalAppend(dst, p)
	} else if err != nil {
		return nil, err
	}
	total := 0
	for _, s := range segs {
		total += s.n
	}
	start := len(dst)
	if cap(dst)-start < total {
		grown := make([]byte, start, start+total)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+total]
	off := start
	for i := range segs {
		segs[i].out = dst[off : off : off+segs[i].n]
		off += segs[i].n
	}
	if err := run(segs, procs, (*segment).encode); err != nil {
		return nil, err
	}
	return dst, nil
}

// A segment is a range of the profile's encoding: either ranges of samples,
// encoded by hand, or a part of the profile (a copy holding some of its
// fields, or a range of one of them) that proto encodes.
type segment struct {
	samples []*googlev1.Sample
	part    *googlev1.Profile

	n        int    // encoded size
	idsSizes []int  // of each sample's packed location IDs, from size
	out      []byte // where it goes: len 0, cap n
}

// segments splits p into segments in the order of the fields' numbers,
// which is the order proto.Marshal writes them in.
func segments(p *googlev1.Profile) []segment {
	segs := make([]segment, 0, 4+len(p.Sample)/samplesPerSegment+
		2*len(p.Location)/messagesPerSegment+len(p.StringTable)/stringsPerSegment)
	segs = append(segs, segment{part: &googlev1.Profile{SampleType: p.SampleType}})
	for r := range slices.Chunk(p.Sample, samplesPerSegment) {
		segs = append(segs, segment{samples: r})
	}
	segs = append(segs, segment{part: &googlev1.Profile{Mapping: p.Mapping}})
	for r := range slices.Chunk(p.Location, messagesPerSegment) {
		segs = append(segs, segment{part: &googlev1.Profile{Location: r}})
	}
	for r := range slices.Chunk(p.Function, messagesPerSegment) {
		segs = append(segs, segment{part: &googlev1.Profile{Function: r}})
	}
	for r := range slices.Chunk(p.StringTable, stringsPerSegment) {
		segs = append(segs, segment{part: &googlev1.Profile{StringTable: r}})
	}
	return append(segs, segment{part: &googlev1.Profile{
		DropFrames:        p.DropFrames,
		KeepFrames:        p.KeepFrames,
		TimeNanos:         p.TimeNanos,
		DurationNanos:     p.DurationNanos,
		PeriodType:        p.PeriodType,
		Period:            p.Period,
		Comment:           p.Comment,
		DefaultSampleType: p.DefaultSampleType,
	}})
}

func (s *segment) size() error {
	if s.part != nil {
		s.n = proto.Size(s.part)
		return nil
	}
	s.idsSizes = make([]int, len(s.samples))
	n, err := samplesSize(s.samples, s.idsSizes)
	s.n = n
	return err
}

func (s *segment) encode() error {
	var b []byte
	var err error
	if s.part != nil {
		b, err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(s.out, s.part)
	} else {
		b = appendSamples(s.out, s.samples, s.idsSizes)
	}
	switch {
	case err != nil:
		return fmt.Errorf("pprofwire: %w", err)
	case len(b) != s.n || (s.n > 0 && &b[0] != &s.out[:1][0]):
		return fmt.Errorf("pprofwire: encoded %d bytes, sized %d: a message changed while it was encoded", len(b), s.n)
	}
	return nil
}

// run calls f on every segment, on up to procs goroutines, and returns the
// first error in segment order.
func run(segs []segment, procs int, f func(*segment) error) error {
	errs := make([]error, len(segs))
	workers := min(procs, len(segs))
	if workers <= 1 {
		for i := range segs {
			errs[i] = f(&segs[i])
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(segs); i = int(next.Add(1) - 1) {
					errs[i] = f(&segs[i])
				}
			})
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// samplesSize returns the size of the encoding of samples as field 2 of
// Profile, or an error if one of them has unknown fields. It keeps the size
// of each sample's location IDs in idsSizes for appendSamples.
func samplesSize(samples []*googlev1.Sample, idsSizes []int) (int, error) {
	n := 0
	for i, s := range samples {
		if s != nil && hasUnknown(s) {
			return 0, errUnknownFields
		}
		for _, l := range s.GetLabel() {
			if l != nil && hasUnknown(l) {
				return 0, errUnknownFields
			}
		}
		idsSizes[i] = uvarintsSize(s.GetLocationId())
		size := sampleSize(idsSizes[i], varintsSize(s.GetValue()), s.GetLabel())
		n += 1 + protowire.SizeVarint(uint64(size)) + size
	}
	return n, nil
}

// sampleSize returns the size of a sample's encoding, given the sizes of
// its packed location IDs and values.
func sampleSize(idsSize, valuesSize int, labels []*googlev1.Label) int {
	n := 0
	if idsSize > 0 {
		n += 1 + protowire.SizeVarint(uint64(idsSize)) + idsSize
	}
	if valuesSize > 0 {
		n += 1 + protowire.SizeVarint(uint64(valuesSize)) + valuesSize
	}
	for _, l := range labels {
		size := labelSize(l)
		n += 1 + protowire.SizeVarint(uint64(size)) + size
	}
	return n
}

func labelSize(l *googlev1.Label) int {
	n := 0
	for _, v := range [...]int64{l.GetKey(), l.GetStr(), l.GetNum(), l.GetNumUnit()} {
		if v != 0 {
			n += 1 + protowire.SizeVarint(uint64(v))
		}
	}
	return n
}

func uvarintsSize(vs []uint64) int {
	n := 0
	for _, v := range vs {
		n += protowire.SizeVarint(v)
	}
	return n
}

func varintsSize(vs []int64) int {
	n := 0
	for _, v := range vs {
		n += protowire.SizeVarint(uint64(v))
	}
	return n
}

// appendSamples appends samples as field 2 of Profile. The fields of a
// sample follow in field-number order, empty ones left out, as proto3
// wants: location_id and value packed, then every label.
func appendSamples(b []byte, samples []*googlev1.Sample, idsSizes []int) []byte {
	for k, s := range samples {
		ids, values, labels := s.GetLocationId(), s.GetValue(), s.GetLabel()
		idsSize, valuesSize := idsSizes[k], varintsSize(values)
		b = append(b, tagProfileSample)
		b = protowire.AppendVarint(b, uint64(sampleSize(idsSize, valuesSize, labels)))
		if idsSize > 0 {
			b = append(b, tagSampleLocationID)
			b = protowire.AppendVarint(b, uint64(idsSize))
			b = appendUvarints(b, ids, idsSize)
		}
		if valuesSize > 0 {
			b = append(b, tagSampleValue)
			b = protowire.AppendVarint(b, uint64(valuesSize))
			b = appendVarints(b, values, valuesSize)
		}
		for _, l := range labels {
			b = append(b, tagSampleLabel)
			b = protowire.AppendVarint(b, uint64(labelSize(l)))
			for i, v := range [...]int64{l.GetKey(), l.GetStr(), l.GetNum(), l.GetNumUnit()} {
				if v != 0 {
					b = append(b, [...]byte{tagLabelKey, tagLabelStr, tagLabelNum, tagLabelNumUnit}[i])
					b = protowire.AppendVarint(b, uint64(v))
				}
			}
		}
	}
	return b
}

// appendUvarints appends vs as varints, size bytes in all. Location IDs
// take one to three bytes at random, so a loop per byte mispredicts about
// once per ID: most IDs are instead spread into their varint bytes with
// shifts and stored as one 8-byte word, of which only the varint's bytes
// count.
func appendUvarints(b []byte, vs []uint64, size int) []byte {
	i := len(b)
	b = slices.Grow(b, size)[:i+size]
	for k, v := range vs {
		// NOTE: the word may only be stored within b: the bytes after it
		// are another range's, written concurrently.
		if v >= 1<<56 || i+8 > len(b) {
			for _, v := range vs[k:] {
				i = putUvarint(b, i, v)
			}
			break
		}
		n := protowire.SizeVarint(v)
		x := v&0x7f | v<<1&0x7f00 | v<<2&0x7f0000 | v<<3&0x7f000000 |
			v<<4&0x7f00000000 | v<<5&0x7f0000000000 | v<<6&0x7f000000000000 | v<<7&0x7f00000000000000
		x |= 0x8080808080808080 & (1<<(8*(n-1)) - 1) // continuation bits
		binary.LittleEndian.PutUint64(b[i:], x)
		i += n
	}
	return b
}

func putUvarint(b []byte, i int, v uint64) int {
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

// appendVarints appends vs as varints, size bytes in all. Values are few
// per sample (one per sample type), so a loop per byte does.
func appendVarints(b []byte, vs []int64, size int) []byte {
	i := len(b)
	b = slices.Grow(b, size)[:i+size]
	for _, v := range vs {
		i = putUvarint(b, i, uint64(v))
	}
	return b
}

func hasUnknown(m proto.Message) bool {
	return len(m.ProtoReflect().GetUnknown()) > 0
}
