// Command blockgen writes Pyroscope v1 blocks into a filesystem bucket:
// from pprof files ("import") or from generated, realistic profiles
// ("synth"). It is meant for fixtures, demos and benchmark data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/cinder-profiling/cinder/pkg/blockwriter"
)

const usage = `usage:
  blockgen import -bucket DIR [-tenant anonymous] [-labels 'service_name=x,...'] FILE...
  blockgen synth  -bucket DIR [-services 4 -pods-per-service 2 -profile-types cpu,memory -hours 3 ...]

Run "blockgen import -h" or "blockgen synth -h" for the flags of each.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "blockgen:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "synth":
		return runSynth(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// commonFlags are the flags every command has.
type commonFlags struct {
	bucket string
	tenant string
	window time.Duration
	seed   uint64
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bucket, "bucket", "", "directory of the filesystem bucket to write blocks into (created if missing)")
	fs.StringVar(&c.tenant, "tenant", "anonymous", "tenant ID; blocks go to <bucket>/<tenant>/phlaredb/<ULID>/")
	fs.DurationVar(&c.window, "block-duration", blockwriter.DefaultWindow, "time span of one block; blocks are aligned to multiples of it")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of block ULIDs, profile IDs and synthetic data")
}

func (c *commonFlags) writer() (*blockwriter.Writer, error) {
	if c.bucket == "" {
		return nil, errors.New("-bucket is required")
	}
	if err := os.MkdirAll(c.bucket, 0o755); err != nil {
		return nil, err
	}
	bkt, err := filesystem.NewBucket(c.bucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", c.bucket, err)
	}
	return blockwriter.New(bkt, c.tenant, blockwriter.Options{Window: c.window, Seed: c.seed})
}

// summary adds up what was written.
type summary struct {
	blocks, series, profiles, sourceProfiles, samples, stacktraces int
	bytes                                                          int64
}

func (s *summary) add(infos []blockwriter.BlockInfo, progress io.Writer) {
	for _, b := range infos {
		s.blocks++
		s.series += b.NumSeries
		s.profiles += b.NumProfiles
		s.sourceProfiles += b.NumSourceProfiles
		s.samples += b.NumSamples
		s.stacktraces += b.NumStacktraces
		s.bytes += b.SizeBytes
		fmt.Fprintf(progress, "block %s  %s  %4d series  %6d profiles  %8d samples  %7d stacks  %s\n",
			b.ULID, b.WindowStart.Format("2006-01-02T15:04Z"), b.NumSeries, b.NumProfiles, b.NumSamples, b.NumStacktraces, formatBytes(b.SizeBytes))
	}
}

func (s *summary) print(w io.Writer, elapsed time.Duration) {
	fmt.Fprintf(w, "wrote %d blocks: %d series, %d profiles (%d pprof), %d samples, %d distinct stacks (summed over blocks), %s in %s\n",
		s.blocks, s.series, s.profiles, s.sourceProfiles, s.samples, s.stacktraces, formatBytes(s.bytes), elapsed.Round(time.Millisecond))
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
