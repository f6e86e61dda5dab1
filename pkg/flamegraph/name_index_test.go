package flamegraph

import (
	"fmt"
	"testing"
)

func TestNameIndex(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names int
		// hash overrides nameHash, to make names collide.
		hash func(string) uint32
	}{
		{"empty", 0, nameHash},
		{"one", 1, nameHash},
		{"grown many times", 5000, nameHash},
		{"all one hash", 300, func(string) uint32 { return 7 }},
		{"two hashes", 1000, func(s string) uint32 { return uint32(len(s) & 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			var ix nameIndex
			for k := range tc.names {
				s := fmt.Sprintf("pkg%d.f%d", k%17, k)
				if ix.find(names, tc.hash(s), s) != -1 {
					t.Fatalf("%q found before it was added", s)
				}
				names = append(names, s)
				ix.add(tc.hash(s), int32(k))
			}
			check := func(when string) {
				t.Helper()
				for k, s := range names {
					if got := ix.find(names, tc.hash(s), s); got != int32(k) {
						t.Fatalf("%s: %q found as %d, want %d", when, s, got, k)
					}
				}
				for _, s := range []string{"", "pkg0.f", "absent"} {
					if got := ix.find(names, tc.hash(s), s); got != -1 {
						t.Fatalf("%s: absent name %q found as %d", when, s, got)
					}
				}
			}
			check("after adding")
			ix.reserve(4 * tc.names)
			check("after reserve")
			ix.reset()
			for _, s := range names {
				if got := ix.find(names, tc.hash(s), s); got != -1 {
					t.Fatalf("%q found as %d after reset", s, got)
				}
			}
		})
	}
}

// A tree's names keep their IDs as its name index grows, resets and drops
// them, whichever way they were interned.
func TestTreeInternPaths(t *testing.T) {
	tr := NewTree()
	for round := range 3 {
		for k := range 3000 {
			s := fmt.Sprintf("round%d.f%d", round%2, k)
			var id int32
			switch k % 3 {
			case 0:
				id = tr.intern(s)
			case 1:
				id = tr.internBytes([]byte(s))
			default:
				id = tr.internHashed(s, nameHash(s))
			}
			if tr.names[id] != s || tr.intern(s) != id || tr.lookupName(s) != id {
				t.Fatalf("round %d: %q interned as %d (%q)", round, s, id, tr.names[id])
			}
		}
		for id, s := range tr.names {
			if got := tr.lookupName(s); got != int32(id) || tr.nameHashes[id] != nameHash(s) {
				t.Fatalf("round %d: %q has ID %d, lookup says %d", round, s, id, got)
			}
		}
		if got := tr.lookupName("never interned"); got != -1 {
			t.Fatalf("a name never interned has ID %d", got)
		}
		if round == 1 {
			tr.dropNames()
			if len(tr.names) != 0 || tr.lookupName("round1.f1") != -1 {
				t.Fatalf("dropNames kept %d names", len(tr.names))
			}
		} else {
			tr.Reset()
		}
	}
}
