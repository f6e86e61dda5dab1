package flamegraph

import (
	"encoding/binary"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// Tags of the sample fields written by hand (field number << 3 | wire type).
const (
	tagProfileSample    = 2<<3 | byte(protowire.BytesType)
	tagSampleLocationID = 1<<3 | byte(protowire.BytesType)
	tagSampleValue      = 2<<3 | byte(protowire.BytesType)
)

// AppendEncoded appends the merged profile to dst in its wire encoding: the
// bytes proto.Marshal writes for the profile of Build, without building its
// sample messages. Those are nearly all of a large profile: for 480k
// stacks, 60 MB of messages stand for 8 MB of encoding. The samples are
// encoded straight from the builder's stacks, in contiguous ranges on
// b.parallelism goroutines; the rest of the profile, a few thousand
// messages, is built and left to proto.
//
// The first range is encoded in the answer's own buffer, after room for
// the fields that precede the samples, and the others in buffers the
// builder keeps, appended after it: encoding every range apart and then
// joining them held the samples twice at the end of a query, 8 MB more of
// live heap at the server's peak for the bench bucket's all-CPU profile.
func (b *ProfileBuilder) AppendEncoded(dst []byte) ([]byte, error) {
	arenas, refs, values := b.samples()
	if len(refs) == 0 {
		return proto.MarshalOptions{}.MarshalAppend(dst, b.Build())
	}
	parts := max(1, min(b.parallelism, len(refs)))
	locID := make([]uint64, len(b.locs))
	locOrder := numberLocations(firstUses(arenas, refs, len(locID), parts), locID)
	for len(b.encoded) < parts {
		b.encoded = append(b.encoded, nil)
	}
	encoded := b.encoded[:parts]
	// The answer is sized as the last one was: a dashboard asks for the
	// same profile again and again.
	start := len(dst)
	out := slices.Grow(dst, headRoom+b.lastEncoded)[:start+headRoom]
	wait := goRanges(len(refs), parts, func(part, lo, hi int) {
		if part == 0 {
			out = encodeSamples(out, arenas, refs[lo:hi], values[lo:hi], locID)
			return
		}
		encoded[part] = encodeSamples(encoded[part][:0], arenas, refs[lo:hi], values[lo:hi], locID)
	})
	t := b.numberTables(locOrder)
	tables := b.tablesSize(t)
	wait()

	// proto writes fields in the order of their numbers, each on its own:
	// sample_type (1), then the samples (2), then the rest (3 to 14).
	// Everything is sized first so that the answer grows at most once.
	head := &googlev1.Profile{SampleType: []*googlev1.ValueType{{Type: t.sampleType[0], Unit: t.sampleType[1]}}}
	rest := tables
	for _, e := range encoded[1:] {
		rest += len(e)
	}
	headSize := proto.Size(head)
	out = slices.Grow(out, rest+max(headSize-headRoom, 0))
	var err error
	if out, err = placeHead(out, start, headSize, head, proto.MarshalOptions{UseCachedSize: true}); err != nil {
		return nil, err
	}
	for _, e := range encoded[1:] {
		out = append(out, e...)
	}
	tablesStart := len(out)
	out = b.appendTables(out, t)
	if n := len(out) - tablesStart; n != tables {
		return nil, fmt.Errorf("profile tables are %d bytes, sized %d", n, tables)
	}
	b.lastEncoded = len(out) - start
	return out, nil
}

// headRoom is the room AppendEncoded leaves for the sample types before
// the samples: 24 bytes at most per type, and a merged profile has one.
const headRoom = 64

// placeHead writes the encoding of head, headSize bytes, between
// out[:start] and the samples that follow headRoom bytes after start,
// and returns the answer: out from its start, the samples moved up
// against the head unless nothing precedes it.
func placeHead(out []byte, start, headSize int, head *googlev1.Profile, opts proto.MarshalOptions) ([]byte, error) {
	samples := len(out) - start - headRoom
	if start == 0 && headSize <= headRoom {
		// Nothing to keep before the head: the answer starts where the
		// head ends up, just before the samples.
		at := headRoom - headSize
		h, err := opts.MarshalAppend(out[at:at], head)
		if err != nil {
			return nil, err
		}
		if len(h) != headSize {
			return nil, fmt.Errorf("profile head is %d bytes, sized %d", len(h), headSize)
		}
		return out[at:], nil
	}
	// Move the samples to follow the head directly.
	end := start + headSize + samples
	if end > len(out) {
		out = append(out, make([]byte, end-len(out))...)
	}
	copy(out[start+headSize:end], out[start+headRoom:start+headRoom+samples])
	h, err := opts.MarshalAppend(out[start:start], head)
	if err != nil {
		return nil, err
	}
	if len(h) != headSize {
		return nil, fmt.Errorf("profile head is %d bytes, sized %d", len(h), headSize)
	}
	return out[:end], nil
}

// encodeSamples appends to out the encoding of samples as the repeated
// field sample of a profile: sample i has the stack of refs[i], its
// locations numbered by locID, and the single value values[i].
func encodeSamples(out []byte, arenas [][]int32, refs []sampleRef, values []int64, locID []uint64) []byte {
	// Each stack is walked once: its IDs go to scratch, whose size gives the
	// lengths that precede them.
	var ids []byte
	for i, r := range refs {
		ids = ids[:0]
		locs := arenas[r.arena]
		for k := r.start; locs[k] != -1; k = nextInStack(locs, k) {
			ids = binary.AppendUvarint(ids, locID[locs[k]])
		}
		v := uint64(values[i])
		body := 2 + protowire.SizeVarint(v) // tag, length (one byte: at most 10), value
		if len(ids) > 0 {
			body += 1 + protowire.SizeVarint(uint64(len(ids))) + len(ids)
		}
		out = append(out, tagProfileSample)
		out = binary.AppendUvarint(out, uint64(body))
		if len(ids) > 0 {
			out = append(out, tagSampleLocationID)
			out = binary.AppendUvarint(out, uint64(len(ids)))
			out = append(out, ids...)
		}
		out = append(out, tagSampleValue, byte(protowire.SizeVarint(v)))
		out = binary.AppendUvarint(out, v)
	}
	return out
}
