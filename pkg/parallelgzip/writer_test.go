package parallelgzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// testData is compressible but not trivially: runs of repeated words with
// random bytes between them, like a profile's varints.
func testData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"main.main ", "runtime.goexit ", "net/http.(*conn).serve ", "\x08\x96\x01"}
	var b bytes.Buffer
	for b.Len() < n {
		if rng.IntN(4) == 0 {
			b.WriteByte(byte(rng.Uint32()))
			continue
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// gunzipOneMember decodes a stream with Go's gzip reader, insisting that it
// is a single member, as readers that ignore later members need.
func gunzipOneMember(t *testing.T, stream []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	r.Multistream(false)
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		t.Fatalf("after the first member: %d bytes, err %v", len(rest), err)
	}
	return got
}

func TestWriterRoundTrip(t *testing.T) {
	const chunk = 1 << 10
	sizes := []int{0, 1, 100, chunk - 1, chunk, chunk + 1, 2 * chunk, 7*chunk + 3, 64 * chunk}
	for _, procs := range []int{1, 2, 3, 8} {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("procs=%d/size=%d", procs, size), func(t *testing.T) {
				data := testData(size, uint64(size))
				var out bytes.Buffer
				z, err := newWriter(&out, 1, chunk, procs)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := z.Write(data); err != nil {
					t.Fatal(err)
				}
				if err := z.Close(); err != nil {
					t.Fatal(err)
				}
				if got := gunzipOneMember(t, out.Bytes()); !bytes.Equal(got, data) {
					t.Fatalf("decoded %d bytes, want the %d written", len(got), size)
				}
			})
		}
	}
}

// TestWriterMixedWrites interleaves writes below and above the chunk size
// on one Writer, reused by Reset, so that serial and parallel parts join in
// every order.
func TestWriterMixedWrites(t *testing.T) {
	const chunk = 512
	tests := [][]int{
		{10, 5000, 10},
		{5000, 10, 5000},
		{5000, 5000},
		{10, 10, 5000},
		{5000, 0, 3, 0},
		{600, 600, 600},
	}
	z, err := newWriter(io.Discard, 1, chunk, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, writes := range tests {
		t.Run(fmt.Sprint(writes), func(t *testing.T) {
			var out, want bytes.Buffer
			z.Reset(&out)
			for j, n := range writes {
				data := testData(n, uint64(10*i+j))
				want.Write(data)
				if _, err := z.Write(data); err != nil {
					t.Fatal(err)
				}
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			if got := gunzipOneMember(t, out.Bytes()); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("decoded %d bytes, want the %d written", len(got), want.Len())
			}
		})
	}
}

func TestWriterAfterClose(t *testing.T) {
	z, err := NewWriterLevel(io.Discard, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := z.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
}

// failingWriter fails every write once it has taken limit bytes.
type failingWriter struct{ limit int }

var errFull = errors.New("full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		return 0, errFull
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriterError(t *testing.T) {
	data := testData(64<<10, 7)
	for _, limit := range []int{0, 5, 100, 4 << 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			z, err := newWriter(&failingWriter{limit: limit}, 1, 1<<10, 2)
			if err != nil {
				t.Fatal(err)
			}
			_, err = z.Write(data)
			if err == nil {
				err = z.Close()
			}
			if !errors.Is(err, errFull) {
				t.Fatalf("got %v, want the underlying writer's error", err)
			}
			if _, err := z.Write(data); !errors.Is(err, errFull) {
				t.Fatalf("next Write: %v, want the same error", err)
			}
		})
	}
}

func TestNewWriterBadLevel(t *testing.T) {
	if _, err := NewWriterLevel(io.Discard, 42); err == nil {
		t.Fatal("level 42 accepted")
	}
}
