package querier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cinder-profiling/cinder/pkg/flamegraph"
	"github.com/cinder-profiling/cinder/pkg/pprofwire"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// profileCodec replaces connect-go's binary protobuf codec, under the same
// name, so that merged profiles are marshalled by pprofwire: byte for byte
// what proto.Marshal writes, in a fraction of the time that protobuf's
// reflection took on one core after SelectMergeProfile had returned.
// Every other message goes to proto as before.
type profileCodec struct{}

var _ connect.Codec = profileCodec{}

func (profileCodec) Name() string { return "proto" }

func (c profileCodec) Marshal(message any) ([]byte, error) {
	return c.MarshalAppend(nil, message)
}

// MarshalAppend lets connect-go hand in a buffer from its pool.
func (profileCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	switch m := message.(type) {
	case *mergedProfile:
		return m.appendEncoded(dst)
	case *googlev1.Profile:
		if raw, ok := encodedBytes(m); ok {
			if len(dst) == 0 && cap(dst) < len(raw) {
				// NOTE: the encoding itself is handed over rather than
				// copied into a buffer grown for it: connect-go may
				// recycle it for a later message, which is safe because
				// an answer is marshalled once and dropped.
				return raw, nil
			}
			return append(dst, raw...), nil
		}
		return pprofwire.MarshalAppend(dst, m)
	case proto.Message:
		return proto.MarshalOptions{}.MarshalAppend(dst, m)
	}
	return nil, fmt.Errorf("marshal %T: not a protobuf message", message)
}

func (profileCodec) Unmarshal(data []byte, message any) error {
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal into %T: not a protobuf message", message)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	return nil
}

// MarshalStable and IsBinary keep what connect-go's codec offers clients
// that send GET requests.
func (profileCodec) MarshalStable(message any) ([]byte, error) {
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", message)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func (profileCodec) IsBinary() bool { return true }

// encodedProfile returns a profile message that carries raw, a profile's
// wire encoding, as its unknown fields and has no field of its own set.
// Marshalled by any protobuf codec, it gives raw back unchanged: a merged
// profile is encoded straight from the builder, without the hundreds of
// thousands of sample messages that proto.Marshal would need.
func encodedProfile(raw []byte) *googlev1.Profile {
	p := new(googlev1.Profile)
	p.ProtoReflect().SetUnknown(raw)
	return p
}

// encodedBytes returns the encoding that p carries if p is an encodedProfile.
func encodedBytes(p *googlev1.Profile) ([]byte, bool) {
	if p == nil {
		return nil, false
	}
	m := p.ProtoReflect()
	raw := m.GetUnknown()
	if len(raw) == 0 {
		return nil, false
	}
	known := false
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		known = true
		return false
	})
	return raw, !known
}

// mergedProfile is SelectMergeProfile's answer as the handler serves it:
// still in its builder, which the codec encodes straight into the buffer
// connect-go hands it from its pool and then releases. Encoding it in
// SelectMergeProfile instead kept two copies of a merged profile alive at
// the collections of the next one: its own fresh encoding, and the pooled
// buffer of the previous answer, which it was copied into or replaced
// (7.6 MB each for the bench bucket's all-CPU profile).
//
// An answer that is never marshalled leaves its builder to the garbage
// collector: the next query makes a new one.
type mergedProfile struct {
	b       *flamegraph.ProfileBuilder
	release func(*flamegraph.ProfileBuilder)
}

// appendEncoded appends the profile's wire encoding to dst and releases
// the builder; it may be called once.
func (m *mergedProfile) appendEncoded(dst []byte) ([]byte, error) {
	if m.b == nil {
		return nil, errors.New("merged profile: encoded twice")
	}
	b := m.b
	m.b = nil
	defer m.release(b)
	out, err := b.AppendEncoded(dst)
	if err != nil {
		return nil, fmt.Errorf("encoding the merged profile: %w", err)
	}
	return out, nil
}

// decode returns the profile as a message, for the JSON codecs.
func (m *mergedProfile) decode() (*googlev1.Profile, error) {
	raw, err := m.appendEncoded(nil)
	if err != nil {
		return nil, err
	}
	return DecodeProfile(encodedProfile(raw))
}

// DecodeProfile returns the profile that SelectMergeProfile's answer
// carries encoded, as its fields; any other profile is returned as it is.
func DecodeProfile(p *googlev1.Profile) (*googlev1.Profile, error) {
	raw, ok := encodedBytes(p)
	if !ok {
		return p, nil
	}
	decoded := new(googlev1.Profile)
	if err := proto.Unmarshal(raw, decoded); err != nil {
		return nil, fmt.Errorf("decoding a merged profile: %w", err)
	}
	return decoded, nil
}

// profileJSONCodec replaces connect-go's JSON codecs, under their names,
// only to decode an encodedProfile first: JSON cannot carry unknown fields.
// Everything else is what connect-go's codec does.
type profileJSONCodec struct{ name string }

var _ connect.Codec = profileJSONCodec{}

func (c profileJSONCodec) Name() string { return c.name }

func (c profileJSONCodec) Marshal(message any) ([]byte, error) {
	return c.MarshalAppend(nil, message)
}

func (profileJSONCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	if mp, ok := message.(*mergedProfile); ok {
		decoded, err := mp.decode()
		if err != nil {
			return nil, err
		}
		message = decoded
	}
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", message)
	}
	if p, ok := m.(*googlev1.Profile); ok {
		decoded, err := DecodeProfile(p)
		if err != nil {
			return nil, err
		}
		m = decoded
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

func (profileJSONCodec) Unmarshal(data []byte, message any) error {
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal into %T: not a protobuf message", message)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	// Unknown fields are dropped, as connect-go does, so that clients on an
	// older or newer schema are understood.
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	return nil
}

// MarshalStable compacts the JSON, whose spacing protojson varies.
func (c profileJSONCodec) MarshalStable(message any) ([]byte, error) {
	out, err := c.Marshal(message)
	if err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, out); err != nil {
		return nil, err
	}
	return compact.Bytes(), nil
}

func (profileJSONCodec) IsBinary() bool { return false }
