package symdb

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDecodeTree(t *testing.T) {
	cases := []struct {
		name    string
		data    []byte
		n       int
		parents []int32
		locs    []int32
		err     string
	}{
		{
			// block-format.md §10.2: the whole stacktraces.symdb of 01HD3X85….
			name: "spec example", n: 4,
			data:    []byte{0x00, 0x01, 0x00, 0x02, 0x02, 0x00, 0x02, 0x01, 0x02, 0x00},
			parents: []int32{-1, 0, 1, 2}, locs: []int32{0, 2, 1, 0},
		},
		{
			name: "odd count ends with a stub", n: 3,
			data:    []byte{0x00, 0x01, 0x00, 0x02, 0x07, 0x00, 0x02, 0x09, 0x00, 0x00},
			parents: []int32{-1, 0, 1}, locs: []int32{0, 7, 9},
		},
		{
			// Value lengths 1, 2, 3 and 4 bytes: ctrl = 0b11_10_01_00.
			name: "multi-byte values", n: 2,
			data: []byte{0xe4, 0x01, 0x34, 0x12, 0x02, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12},
			// A root's location is dropped: it means nothing.
			parents: []int32{-1, 0}, locs: []int32{0, 0x12345678},
		},
		{
			name: "sibling: parent delta zero and negative", n: 4,
			data:    encodeTree([]int32{-1, 0, 1, 0}, []int32{0, 5, 6, 7}),
			parents: []int32{-1, 0, 1, 0}, locs: []int32{0, 5, 6, 7},
		},
		{name: "empty tree", n: 0, data: nil, parents: []int32{}, locs: []int32{}},
		{name: "short group", n: 2, data: []byte{0x00, 0x01, 0x00}, err: "needs 5 bytes"},
		{name: "no group", n: 2, data: nil, err: "unexpected end of data"},
		{name: "trailing bytes", n: 2, data: []byte{0x00, 0x01, 0x00, 0x02, 0x01, 0xff}, err: "1 bytes left"},
		{name: "root with a parent", n: 2, data: []byte{0x00, 0x00, 0x00, 0x02, 0x01}, err: "node 0 of 2 has parent 0"},
		{name: "parent not before child", n: 2, data: []byte{0x00, 0x01, 0x00, 0x04, 0x01}, err: "node 1 of 2 has parent 1"},
		{name: "parent below -1", n: 2, data: []byte{0x00, 0x03, 0x00, 0x02, 0x01}, err: "node 0 of 2 has parent -2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parents, locs, err := decodeTreeSlices(c.n, c.data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(parents, c.parents) || !slices.Equal(locs, c.locs) {
				t.Errorf("got %v / %v, want %v / %v", parents, locs, c.parents, c.locs)
			}
		})
	}
}

func TestDecodeTreeRoundTrip(t *testing.T) {
	rng := newRand(1)
	for _, n := range []int{1, 2, 3, 17, 1000, 4097} {
		parents := []int32{-1}
		locs := []int32{0}
		for i := 1; i < n; i++ {
			parents = append(parents, rng.Int32N(int32(i)))
			// Mix small and large locations so every value length occurs.
			locs = append(locs, int32(rng.Uint32N(1<<uint(rng.IntN(31)+1))))
		}
		data := encodeTree(parents, locs)
		gotP, gotL, err := decodeTreeSlices(n, data)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !slices.Equal(gotP, parents) || !slices.Equal(gotL, locs) {
			t.Fatalf("n=%d: round trip differs", n)
		}
		if uint64(n) > maxTreeNodes(uint64(len(data))) {
			t.Fatalf("n=%d nodes in %d bytes exceeds maxTreeNodes", n, len(data))
		}
		// Every truncation fails cleanly.
		for cut := 0; cut < len(data) && cut < 64; cut++ {
			if _, _, err := decodeTreeSlices(n, data[:cut]); err == nil {
				t.Fatalf("n=%d: truncated to %d bytes decoded", n, cut)
			}
		}
	}
}

// decodeTreeSlices decodes a chunk of n nodes into a tree of its own and
// returns its parents and locations.
func decodeTreeSlices(n int, data []byte) (parents, locs []int32, err error) {
	b := newStackTreeBuilder(n)
	if err := decodeTree(b, n, data); err != nil {
		return nil, nil, err
	}
	t := b.finish()
	return t.AppendParents([]int32{}), t.AppendLocations([]int32{}), nil
}

func TestDecodeStacktracesChecks(t *testing.T) {
	tree := encodeTree([]int32{-1, 0, 1}, []int32{0, 4, 5})
	good := chunkHeader{size: uint64(len(tree)), encoding: 1, nodes: 3, maxNodes: 8, crc: crc(tree)}
	cases := []struct {
		name string
		edit func(h *chunkHeader)
		want error
		msg  string
	}{
		{"bad CRC", func(h *chunkHeader) { h.crc++ }, ErrChecksum, "chunk 1: bad CRC32C"},
		{"unknown encoding", func(h *chunkHeader) { h.encoding = 2 }, ErrFormatVersion, "encoding 2"},
		{"too many nodes", func(h *chunkHeader) { h.nodes = 1000 }, nil, "cannot fit"},
		{"too few nodes", func(h *chunkHeader) { h.nodes = 2 }, nil, "bytes left"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := good
			c.edit(&bad)
			_, _, err := decodeStacktraces([]chunkHeader{good, bad}, [][]byte{tree, tree})
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v, want %v / %q", err, c.want, c.msg)
			}
		})
	}
	t.Run("M of zero", func(t *testing.T) {
		h := good
		h.maxNodes = 0
		if _, _, err := decodeStacktraces([]chunkHeader{h}, [][]byte{tree}); err == nil {
			t.Error("M = 0 accepted")
		}
	})
	t.Run("chunks concatenate", func(t *testing.T) {
		st, ids, err := decodeStacktraces([]chunkHeader{good, good}, [][]byte{tree, tree})
		if err != nil {
			t.Fatal(err)
		}
		parents, locs := st.AppendParents(nil), st.AppendLocations(nil)
		if !slices.Equal(parents, []int32{-1, 0, 1, -1, 3, 4}) || !slices.Equal(locs, []int32{0, 4, 5, 0, 4, 5}) {
			t.Errorf("got %v / %v", parents, locs)
		}
		p := &Partition{Tree: st, ids: ids}
		checkIDs(t, p, []idCase{{id: 2, locs: []int32{5, 4}}, {id: 8}, {id: 10, locs: []int32{5, 4}}, {id: 11}, {id: 17, err: ErrStacktraceOutOfRange}})
	})
}

// TestDecodeTreeChunks decodes trees split into chunks of many sizes, with
// locations that do not fit 16 bits from some chunk on or from none, and
// checks that the tree equals the one NewStackTree makes of the same nodes.
func TestDecodeTreeChunks(t *testing.T) {
	rng := newRand(21)
	for round := range 40 {
		var sizes []int
		for range 1 + rng.IntN(6) {
			sizes = append(sizes, []int{0, 1, 2, 3, 63, 64, 65, 127, 128, 129, 1000, 4097}[rng.IntN(12)])
		}
		wideFrom := rng.IntN(len(sizes) + 1) // chunks from here on have wide locations
		b := newStackTreeBuilder(8)
		var parents, locs []int32
		for c, n := range sizes {
			base := int32(len(parents))
			chunkParents := make([]int32, n)
			chunkLocs := make([]int32, n)
			for i := range n {
				switch {
				case i == 0 || rng.IntN(20) == 0:
					chunkParents[i] = -1
				case rng.IntN(4) == 0:
					chunkParents[i] = rng.Int32N(int32(i))
				default:
					chunkParents[i] = int32(i - 1)
				}
				if chunkParents[i] >= 0 {
					chunkLocs[i] = rng.Int32N(1 << 16)
					if c >= wideFrom && rng.IntN(8) == 0 {
						chunkLocs[i] = 1<<16 + rng.Int32N(1<<20)
					}
				}
				p := chunkParents[i]
				if p >= 0 {
					p += base
				}
				parents = append(parents, p)
				locs = append(locs, chunkLocs[i])
			}
			if err := decodeTree(b, n, encodeTree(chunkParents, chunkLocs)); err != nil {
				t.Fatalf("round %d chunk %d: %v", round, c, err)
			}
		}
		got, want := b.finish(), MustStackTree(parents, locs)
		if got.n != want.n || !slices.Equal(got.jump, want.jump) || !slices.Equal(got.rank, want.rank) ||
			!slices.Equal(got.far, want.far) || !slices.Equal(got.loc16, want.loc16) ||
			!slices.Equal(got.loc32, want.loc32) || got.maxLoc != want.maxLoc {
			t.Fatalf("round %d (chunks %v, wide from %d): decoded tree differs from NewStackTree's", round, sizes, wideFrom)
		}
	}
}
