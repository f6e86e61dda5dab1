package bucket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/cinder-profiling/cinder/pkg/blockreader"
	"github.com/cinder-profiling/cinder/pkg/cache"
)

func TestBlockFiles(t *testing.T) {
	ctx := context.Background()
	bkt := objstore.NewInMemBucket()
	content := []byte("0123456789abcdefghij")
	dir := "t/phlaredb/01HD3X85G9BGAG4S3TKPNMFG4Z"
	if err := bkt.Upload(ctx, dir+"/profiles.parquet", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	bkt.Upload(ctx, dir+"/secret.bin", strings.NewReader("not listed"))
	for _, sized := range []bool{true, false} {
		meta := &blockreader.Meta{Files: []blockreader.File{{RelPath: "profiles.parquet"}}}
		if sized {
			meta.Files[0].SizeBytes = uint64(len(content))
		}
		f := newBlockFiles(bkt, dir, meta, nil, false)

		got, err := f.ReadFile(ctx, "profiles.parquet")
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("ReadFile = %q, %v", got, err)
		}
		ra, size, err := f.ReaderAt(ctx, "profiles.parquet")
		if err != nil || size != int64(len(content)) {
			t.Fatalf("ReaderAt size %d, %v", size, err)
		}
		buf := make([]byte, 5)
		if n, err := ra.ReadAt(buf, 3); n != 5 || err != nil || string(buf) != "34567" {
			t.Errorf("ReadAt(3) = %d %q %v", n, buf, err)
		}
		if n, err := ra.ReadAt(buf, 17); n != 3 || !errors.Is(err, io.EOF) || string(buf[:n]) != "hij" {
			t.Errorf("ReadAt at the end = %d %q %v, want 3 bytes and io.EOF", n, buf[:n], err)
		}
		if _, err := ra.ReadAt(buf, 20); !errors.Is(err, io.EOF) {
			t.Errorf("ReadAt past the end: %v, want io.EOF", err)
		}
		for _, p := range []string{"secret.bin", "../other/meta.json", "index.tsdb"} {
			if _, err := f.ReadFile(ctx, p); err == nil {
				t.Errorf("ReadFile(%q) succeeded for a file meta.json does not list", p)
			}
			if _, _, err := f.ReaderAt(ctx, p); err == nil {
				t.Errorf("ReaderAt(%q) succeeded for a file meta.json does not list", p)
			}
		}
	}
}

// countingBucket counts ranged reads.
type countingBucket struct {
	objstore.Bucket
	ranges int
}

func (b *countingBucket) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	b.ranges++
	return b.Bucket.GetRange(ctx, name, off, length)
}

func TestBlockFilesByteCache(t *testing.T) {
	ctx := context.Background()
	bkt := &countingBucket{Bucket: objstore.NewInMemBucket()}
	content := []byte("0123456789abcdefghij")
	dir := "t/phlaredb/01HD3X85G9BGAG4S3TKPNMFG4Z"
	if err := bkt.Upload(ctx, dir+"/profiles.parquet", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	meta := &blockreader.Meta{Files: []blockreader.File{{RelPath: "profiles.parquet", SizeBytes: uint64(len(content))}}}
	f := newBlockFiles(bkt, dir, meta, cache.NewMemory("test", 1<<20), false)
	ra, _, err := f.ReaderAt(ctx, "profiles.parquet")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		buf := make([]byte, 5)
		if n, err := ra.ReadAt(buf, 3); n != 5 || err != nil || string(buf) != "34567" {
			t.Fatalf("round %d: ReadAt(3) = %d %q %v", round, n, buf, err)
		}
		buf[0] = 'X' // callers reuse their buffers; the cache must not see it
		tail := make([]byte, 8)
		if n, err := ra.ReadAt(tail, 17); n != 3 || !errors.Is(err, io.EOF) || string(tail[:n]) != "hij" {
			t.Fatalf("round %d: ReadAt at the end = %d %q %v", round, n, tail[:n], err)
		}
	}
	if bkt.ranges != 2 {
		t.Errorf("%d ranged reads from the bucket, want 2: repeats must come from the cache", bkt.ranges)
	}
}

// With symbol reads uncached, ranged reads of symbol files, in every
// directory Pyroscope has put them, go to the bucket each time, and those
// of profiles.parquet still come from the cache.
func TestBlockFilesSymbolReadsUncached(t *testing.T) {
	ctx := context.Background()
	bkt := &countingBucket{Bucket: objstore.NewInMemBucket()}
	content := []byte("0123456789abcdefghij")
	dir := "t/phlaredb/01HD3X85G9BGAG4S3TKPNMFG4Z"
	files := []string{"profiles.parquet", "symbols/index.symdb", "symbols/locations.parquet", "stacktraces.parquet", "symbols.symdb"}
	meta := &blockreader.Meta{}
	for _, name := range files {
		if err := bkt.Upload(ctx, dir+"/"+name, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		meta.Files = append(meta.Files, blockreader.File{RelPath: name, SizeBytes: uint64(len(content))})
	}
	f := newBlockFiles(bkt, dir, meta, cache.NewMemory("test", 1<<20), true)
	for _, name := range files {
		ra, _, err := f.ReaderAt(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		before := bkt.ranges
		for range 3 {
			buf := make([]byte, 5)
			if n, err := ra.ReadAt(buf, 3); n != 5 || err != nil || string(buf) != "34567" {
				t.Fatalf("%s: ReadAt(3) = %d %q %v", name, n, buf, err)
			}
		}
		want := 3
		if name == "profiles.parquet" {
			want = 1
		}
		if got := bkt.ranges - before; got != want {
			t.Errorf("%s: %d ranged reads from the bucket for 3 reads of one range, want %d", name, got, want)
		}
	}
}

// With the bucket's directory known, ranged reads go to the block's files,
// opened once, and none to the bucket; they read what the bucket would,
// and a file missing or shorter than meta.json says fails the read with
// the object's name.
func TestBlockFilesLocal(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fsBkt, err := filesystem.NewBucket(root)
	if err != nil {
		t.Fatal(err)
	}
	bkt := &countingBucket{Bucket: fsBkt}
	content := []byte("0123456789abcdefghij")
	dir := "t/phlaredb/01HD3X85G9BGAG4S3TKPNMFG4Z"
	for _, name := range []string{"profiles.parquet", "symbols/index.symdb"} {
		if err := bkt.Upload(ctx, dir+"/"+name, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	meta := &blockreader.Meta{Files: []blockreader.File{
		{RelPath: "profiles.parquet", SizeBytes: uint64(len(content))},
		{RelPath: "symbols/index.symdb", SizeBytes: uint64(len(content)) + 4}, // longer than the file
		{RelPath: "index.tsdb", SizeBytes: 10},                                // missing
	}}
	s := &Syncer{bkt: bkt, localDir: root}
	f := s.blockFiles(dir, meta)
	for round := range 2 {
		ra, _, err := f.ReaderAt(ctx, "profiles.parquet")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if n, err := ra.ReadAt(buf, 3); n != 5 || err != nil || string(buf) != "34567" {
			t.Errorf("round %d: ReadAt(3) = %d %q %v", round, n, buf, err)
		}
		if n, err := ra.ReadAt(buf, 17); n != 3 || !errors.Is(err, io.EOF) || string(buf[:n]) != "hij" {
			t.Errorf("round %d: ReadAt at the end = %d %q %v, want 3 bytes and io.EOF", round, n, buf[:n], err)
		}
		if _, err := ra.ReadAt(buf, 20); !errors.Is(err, io.EOF) {
			t.Errorf("round %d: ReadAt past the end: %v, want io.EOF", round, err)
		}
	}
	if len(f.opened) != 1 {
		t.Errorf("%d files opened for reads of one file", len(f.opened))
	}
	ra, _, err := f.ReaderAt(ctx, "symbols/index.symdb")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := ra.ReadAt(buf, 16); !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), dir+"/symbols/index.symdb") {
		t.Errorf("read past a short file: %v, want io.ErrUnexpectedEOF naming the file", err)
	}
	ra, _, err = f.ReaderAt(ctx, "index.tsdb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ra.ReadAt(buf, 0); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir+"/index.tsdb") {
		t.Errorf("read of a missing file: %v, want fs.ErrNotExist naming the file", err)
	}
	if bkt.ranges != 0 {
		t.Errorf("%d ranged reads went to the bucket, want none", bkt.ranges)
	}
}
