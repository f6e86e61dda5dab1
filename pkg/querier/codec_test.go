package querier

import (
	"bytes"
	"testing"

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
