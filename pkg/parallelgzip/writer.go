package parallelgzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"

	"github.com/klauspost/compress/flate"
)

// DefaultChunkSize is the uncompressed size of the chunks that are
// compressed in parallel. A chunk loses only the 32 KiB of history a deflate
// back-reference may reach into the previous chunk, so at this size the
// stream is under 1% larger than one compressed serially.
const DefaultChunkSize = 512 << 10

// header is a gzip member header with no name, no modification time and
// "unknown" as the operating system (RFC 1952 §2.3).
var header = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// finalBlock is an empty, final stored deflate block. NOTE: it may only
// follow a sync flush, which leaves the stream byte-aligned.
var finalBlock = [5]byte{0x01, 0x00, 0x00, 0xff, 0xff}

// ErrClosed is returned by a write to a closed Writer.
var ErrClosed = errors.New("gzip: write to a closed writer")

// Writer is a gzip writer whose writes of more than one chunk are compressed
// in parallel. Smaller writes are compressed on the caller's goroutine, as
// compress/gzip would. A Writer is not safe for concurrent use; Reset lets it
// be reused, keeping its encoders and buffers.
type Writer struct {
	w         io.Writer
	level     int
	chunkSize int
	procs     int

	wroteHeader bool
	closed      bool
	digest      uint32
	size        uint32
	err         error // sticky: the first error writing to w

	// serial compresses the small writes, into w directly. It holds
	// history that the parallel chunks would invalidate, so it is flushed
	// before them and reset onto w before its next use after them.
	serial     *flate.Writer
	serialOpen bool

	// encoders has one encoder per goroutine of a parallel write. Chunk i
	// is compressed into slots[i%len(slots)], and chunk i+len(slots) is
	// only handed out once chunk i has been written to w, which bounds the
	// memory a write holds to len(slots) compressed chunks.
	encoders []*flate.Writer
	slots    []chunkSlot
}

type chunkSlot struct {
	out  bytes.Buffer
	err  error
	done chan struct{}
}

// NewWriterLevel returns a Writer that compresses at level (a
// compress/flate level) into w, in parallel on GOMAXPROCS goroutines.
func NewWriterLevel(w io.Writer, level int) (*Writer, error) {
	return newWriter(w, level, DefaultChunkSize, runtime.GOMAXPROCS(0))
}

func newWriter(w io.Writer, level, chunkSize, procs int) (*Writer, error) {
	serial, err := flate.NewWriter(w, level)
	if err != nil {
		return nil, fmt.Errorf("gzip level %d: %w", level, err)
	}
	return &Writer{w: w, level: level, chunkSize: chunkSize, procs: max(procs, 1), serial: serial}, nil
}

// Reset discards the stream and makes z write a new one to w.
func (z *Writer) Reset(w io.Writer) {
	z.w = w
	z.wroteHeader = false
	z.closed = false
	z.digest = 0
	z.size = 0
	z.err = nil
	z.serialOpen = false
}

// Write compresses p. A p of more than one chunk is compressed in parallel
// and written to the underlying writer before Write returns.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, ErrClosed
	}
	if !z.wroteHeader {
		z.wroteHeader = true
		if z.err = z.write(header[:]); z.err != nil {
			return 0, z.err
		}
	}
	z.digest = crc32.Update(z.digest, crc32.IEEETable, p)
	z.size += uint32(len(p)) // NOTE: RFC 1952 keeps the size modulo 2^32.
	if len(p) <= z.chunkSize || z.procs == 1 {
		if !z.serialOpen {
			z.serial.Reset(z.w)
			z.serialOpen = true
		}
		if _, err := z.serial.Write(p); err != nil {
			z.err = fmt.Errorf("gzip: %w", err)
			return 0, z.err
		}
		return len(p), nil
	}
	if z.serialOpen {
		if err := z.serial.Flush(); err != nil {
			z.err = fmt.Errorf("gzip: %w", err)
			return 0, z.err
		}
		z.serialOpen = false
	}
	if z.err = z.writeChunks(p); z.err != nil {
		return 0, z.err
	}
	return len(p), nil
}

// writeChunks compresses p in chunks on up to z.procs goroutines and writes
// them to z.w in order. Every chunk ends in a sync flush, so the chunks
// join into one deflate stream, which Close ends.
func (z *Writer) writeChunks(p []byte) error {
	n := (len(p) + z.chunkSize - 1) / z.chunkSize
	workers := min(z.procs, n)
	for len(z.encoders) < workers {
		enc, err := flate.NewWriter(nil, z.level)
		if err != nil {
			return fmt.Errorf("gzip level %d: %w", z.level, err)
		}
		z.encoders = append(z.encoders, enc)
	}
	for len(z.slots) < 2*workers {
		z.slots = append(z.slots, chunkSlot{done: make(chan struct{}, 1)})
	}
	slots := z.slots[:2*workers]
	chunk := func(i int) []byte { return p[i*z.chunkSize : min((i+1)*z.chunkSize, len(p))] }

	jobs := make(chan int, n)
	for _, enc := range z.encoders[:workers] {
		go func() {
			for i := range jobs {
				s := &slots[i%len(slots)]
				s.out.Reset()
				enc.Reset(&s.out)
				_, s.err = enc.Write(chunk(i))
				if s.err == nil {
					s.err = enc.Flush()
				}
				s.done <- struct{}{}
			}
		}()
	}
	var err error
	written := 0
	writeNext := func() {
		s := &slots[written%len(slots)]
		<-s.done
		switch {
		case err != nil: // drain the chunks in flight
		case s.err != nil:
			err = fmt.Errorf("compress chunk %d of %d: %w", written, n, s.err)
		default:
			err = z.write(s.out.Bytes())
		}
		written++
	}
	for i := range n {
		if i >= len(slots) {
			writeNext()
		}
		jobs <- i
	}
	close(jobs)
	for written < n {
		writeNext()
	}
	return err
}

// Close ends the deflate stream and writes the gzip trailer. It does not
// close the underlying writer. Closing a closed Writer does nothing.
func (z *Writer) Close() error {
	if z.closed {
		return nil
	}
	if z.err != nil {
		return z.err
	}
	z.closed = true
	if !z.wroteHeader {
		z.wroteHeader = true
		if z.err = z.write(header[:]); z.err != nil {
			return z.err
		}
	}
	if z.serialOpen {
		z.serialOpen = false
		if err := z.serial.Close(); err != nil {
			z.err = fmt.Errorf("gzip: %w", err)
			return z.err
		}
	} else if z.err = z.write(finalBlock[:]); z.err != nil {
		return z.err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.digest)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	z.err = z.write(trailer[:])
	return z.err
}

func (z *Writer) write(p []byte) error {
	if _, err := z.w.Write(p); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}
