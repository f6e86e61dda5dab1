package flamegraph

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// bytesOf spells tree bytes: strings are written with their length prefix,
// numbers as single-byte varints.
func bytesOf(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, byte(len(v)))
			b = append(b, v...)
		case int:
			b = append(b, byte(v))
		}
	}
	return b
}

func TestMarshalTreeWorkedExample(t *testing.T) {
	// api.md §6.5.4: the k = 3 tree of §6.5.3.
	want := bytesOf("", 0, 2, "other", 4, 0, "main", 2, 2, "other", 4, 0, "a", 5, 1, "x", 10, 0)
	got := workedExample().MarshalTree(3)
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalTree(3) =\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}
	// Readers reconstruct the truncated tree.
	tr, err := UnmarshalTree(got)
	if err != nil {
		t.Fatal(err)
	}
	wantTree := treeOf(
		stackValue{"main;a;x", 10},
		stackValue{"main;a", 5},
		stackValue{"main;other", 4},
		stackValue{"main", 2},
		stackValue{"other", 4},
	)
	if g, w := treeDump(tr), treeDump(wantTree); !slices.Equal(g, w) {
		t.Fatalf("decoded = %v, want %v", g, w)
	}
}

func TestMarshalTreeOtherHandling(t *testing.T) {
	// An existing "other" child is kept whatever its total and absorbs the
	// dropped siblings; a new one is inserted in name order.
	tests := []struct {
		name     string
		tree     *Tree
		maxNodes int64
		want     []byte
	}{
		{
			name: "existing other absorbs dropped siblings",
			tree: treeOf(
				stackValue{"m;big", 100},
				stackValue{"m;other", 1},
				stackValue{"m;other;deep", 1},
				stackValue{"m;small", 2},
			),
			maxNodes: 2,
			// m: children big (100), other (2, kept by name, self 1+2
			// dropped from small) whose child "deep" (1) is itself
			// dropped into an "other" grandchild.
			want: bytesOf("", 0, 1, "m", 0, 2, "other", 3, 1, "other", 1, 0, "big", 100, 0),
		},
		{
			name: "new other in name order",
			tree: treeOf(
				stackValue{"a", 10},
				stackValue{"p", 9},
				stackValue{"b", 1},
				stackValue{"z", 1},
			),
			maxNodes: 2,
			// Roots a, other(b+z), p written last to first.
			want: bytesOf("", 0, 3, "p", 9, 0, "other", 2, 0, "a", 10, 0),
		},
		{
			name:     "empty",
			tree:     NewTree(),
			maxNodes: 1,
			want:     nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tree.MarshalTree(tc.maxNodes)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("MarshalTree =\n%s\nwant\n%s", hex.Dump(got), hex.Dump(tc.want))
			}
		})
	}
}

func TestUnmarshalTreeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"one byte", []byte{0}},
		{"missing child", bytesOf("", 0, 1)},
		{"name too long", bytesOf("", 0, 1, 9, 'a', 0, 0)},
		{"trailing bytes", append(bytesOf("", 0, 1, "a", 1, 0), 7)},
		{"value out of range", []byte{0, 0, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}},
		{"varint overflow", []byte{0, 0, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UnmarshalTree(tc.in); !errors.Is(err, ErrMalformedTree) {
				t.Fatalf("err = %v, want ErrMalformedTree", err)
			}
		})
	}
	tr, err := UnmarshalTree(nil)
	if err != nil || tr.Len() != 0 {
		t.Fatalf("empty input: %v, %d nodes", err, tr.Len())
	}
	// Duplicate siblings merge; zero-valued leaves are kept as nodes.
	tr, err = UnmarshalTree(bytesOf("", 0, 3, "a", 1, 0, "b", 0, 0, "a", 2, 1, "c", 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if g, w := treeDump(tr), []string{"a 3 6", "a;c 3 3", "b 0 0"}; !slices.Equal(g, w) {
		t.Fatalf("decoded = %v, want %v", g, w)
	}
}

func TestTreeFormatRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 200 {
		tr, _ := randomTree(rng, 1+rng.IntN(60), 1+rng.IntN(8), 1+rng.IntN(12))
		got, err := UnmarshalTree(tr.MarshalTree(0))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if g, w := treeDump(got), treeDump(tr); !slices.Equal(g, w) {
			t.Fatalf("case %d: round trip differs:\n%v\nwant\n%v", i, g, w)
		}
		// Truncation preserves the total.
		k := int64(1 + rng.IntN(tr.Len()+1))
		trunc, err := UnmarshalTree(tr.MarshalTree(k))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if trunc.Total() != tr.Total() {
			t.Fatalf("case %d: truncated total %d, want %d", i, trunc.Total(), tr.Total())
		}
	}
}

func FuzzUnmarshalTree(f *testing.F) {
	f.Add([]byte{})
	f.Add(workedExample().MarshalTree(0))
	f.Add(workedExample().MarshalTree(3))
	f.Add(bytesOf("", 0, 3, "a", 1, 0, "b", 0, 0, "a", 2, 1, "c", 3, 0))
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := UnmarshalTree(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedTree) {
				t.Fatalf("error does not wrap ErrMalformedTree: %v", err)
			}
			return
		}
		// What decodes re-encodes to the same tree.
		again, err := UnmarshalTree(tr.MarshalTree(0))
		if err != nil {
			t.Fatalf("re-encoded tree does not decode: %v", err)
		}
		if g, w := treeDump(again), treeDump(tr); !slices.Equal(g, w) {
			t.Fatalf("round trip differs:\n%v\nwant\n%v", g, w)
		}
		_ = tr.FlameGraph(DefaultMaxNodes)
	})
}
