package querier

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
	querierv1 "github.com/cinder-profiling/cinder/proto/querier/v1"
)

func TestProfileCodec(t *testing.T) {
	tests := map[string]proto.Message{
		"profile": &googlev1.Profile{
			SampleType:  []*googlev1.ValueType{{Type: 1, Unit: 2}},
			Sample:      []*googlev1.Sample{{LocationId: []uint64{1, 300}, Value: []int64{-5}, Label: []*googlev1.Label{{Key: 3, Num: 1}}}},
			Location:    []*googlev1.Location{{Id: 1, Line: []*googlev1.Line{{FunctionId: 1, Line: 7}}}},
			Function:    []*googlev1.Function{{Id: 1, Name: 4}},
			StringTable: []string{"", "cpu", "nanoseconds", "pod", "main"},
			Period:      10,
		},
		"other message": &querierv1.SelectMergeProfileRequest{ProfileTypeID: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", Start: 1, End: 2},
	}
	codec := profileCodec{}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			want, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := codec.MarshalAppend([]byte("x"), m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Fatalf("MarshalAppend differs from proto.Marshal")
			}
			if got, err = codec.Marshal(m); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Marshal differs from proto.Marshal (err %v)", err)
			}
			back := m.ProtoReflect().New().Interface()
			if err := codec.Unmarshal(want, back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, m) {
				t.Fatalf("Unmarshal gave %v, want %v", back, m)
			}
		})
	}
	if _, err := codec.Marshal(struct{}{}); err == nil {
		t.Fatal("marshalled a struct that is not a message")
	}
}

// An encoded profile marshals to its encoding with the protobuf codec, to
// the JSON of the profile it encodes with the JSON codecs, and decodes back.
func TestEncodedProfileCodecs(t *testing.T) {
	prof := &googlev1.Profile{
		SampleType:  []*googlev1.ValueType{{Type: 1, Unit: 2}},
		Sample:      []*googlev1.Sample{{LocationId: []uint64{1}, Value: []int64{5}}},
		Location:    []*googlev1.Location{{Id: 1, Line: []*googlev1.Line{{FunctionId: 1}}}},
		Function:    []*googlev1.Function{{Id: 1, Name: 3}},
		StringTable: []string{"", "cpu", "nanoseconds", "main"},
	}
	raw, err := proto.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	enc := encodedProfile(raw)

	got, err := profileCodec{}.MarshalAppend([]byte("x"), enc)
	if err != nil || !bytes.Equal(got, append([]byte("x"), raw...)) {
		t.Fatalf("protobuf codec: %d bytes (err %v), want the %d encoded", len(got), err, len(raw))
	}
	// Into an empty buffer too small for it, the encoding itself is given.
	if got, err := (profileCodec{}).MarshalAppend(make([]byte, 0, 16), enc); err != nil || !bytes.Equal(got, raw) || &got[0] != &raw[0] {
		t.Fatalf("protobuf codec into a small buffer: %d bytes (err %v), want the encoding itself", len(got), err)
	}
	if got, err := (profileCodec{}).MarshalAppend(make([]byte, 0, len(raw)), enc); err != nil || !bytes.Equal(got, raw) || &got[0] == &raw[0] {
		t.Fatalf("protobuf codec into a large enough buffer: %d bytes (err %v), want a copy in it", len(got), err)
	}
	if got, err := proto.Marshal(enc); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("proto.Marshal of an encoded profile: %d bytes (err %v), want the %d encoded", len(got), err, len(raw))
	}
	wantJSON, err := protojson.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"json", "json; charset=utf-8"} {
		c := profileJSONCodec{name}
		got, err := c.Marshal(enc)
		if err != nil || !bytes.Equal(got, wantJSON) {
			t.Errorf("%s codec: %s (err %v), want %s", name, got, err, wantJSON)
		}
		back := new(googlev1.Profile)
		if err := c.Unmarshal(got, back); err != nil || !proto.Equal(back, prof) {
			t.Errorf("%s codec: decoded %v (err %v), want %v", name, back, err, prof)
		}
	}
	decoded, err := DecodeProfile(enc)
	if err != nil || !proto.Equal(decoded, prof) {
		t.Fatalf("DecodeProfile = %v, %v; want %v", decoded, err, prof)
	}
	// A profile with fields of its own is not an encoded one, even with
	// unknown fields.
	if p, err := DecodeProfile(prof); err != nil || p != prof {
		t.Errorf("DecodeProfile of a plain profile = %p, %v; want it unchanged", p, err)
	}
	mixed := proto.Clone(prof).(*googlev1.Profile)
	mixed.ProtoReflect().SetUnknown(protowire.AppendTag(nil, 99, protowire.VarintType))
	if _, ok := encodedBytes(mixed); ok {
		t.Error("a profile with fields and unknown fields taken for an encoded one")
	}
	if _, err := DecodeProfile(encodedProfile([]byte{0xff})); err == nil {
		t.Error("DecodeProfile accepted bytes that are no profile")
	}
}
