package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cinder-profiling/cinder/pkg/blockwriter"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// maxPprofSize bounds a decompressed pprof file.
const maxPprofSize = 512 << 20

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c      commonFlags
		labels string
	)
	c.register(fs)
	fs.StringVar(&labels, "labels", "", "series labels, name=value,...; __name__ is guessed from the sample types when missing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: blockgen import -bucket DIR [flags] FILE... (pprof, raw or gzipped)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no pprof files given")
	}
	base, err := blockwriter.ParseLabels(labels)
	if err != nil {
		return fmt.Errorf("-labels: %w", err)
	}
	w, err := c.writer()
	if err != nil {
		return err
	}
	start := time.Now()
	for _, name := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := readPprof(name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ls := base
		if _, ok := ls.Get(blockwriter.LabelName); !ok {
			n, ok := blockwriter.GuessProfileName(p)
			if !ok {
				return fmt.Errorf("%s: cannot tell the profile name from its sample types; give -labels __name__=...", name)
			}
			ls = append(append(blockwriter.Labels{}, ls...), blockwriter.Label{Name: blockwriter.LabelName, Value: n})
		}
		ts := p.TimeNanos
		if ts <= 0 {
			ts = time.Now().UnixNano()
		}
		if err := w.Add(ls, p, ts); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	infos, err := w.Flush(ctx)
	var s summary
	s.add(infos, stderr)
	if err != nil {
		return err
	}
	s.print(stdout, time.Since(start))
	return nil
}

// readPprof reads a pprof file, gzipped or not.
func readPprof(name string) (*googlev1.Profile, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if raw, err = io.ReadAll(io.LimitReader(zr, maxPprofSize+1)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if len(raw) > maxPprofSize {
			return nil, fmt.Errorf("decompressed profile larger than %d bytes", maxPprofSize)
		}
	}
	var p googlev1.Profile
	if err := proto.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("not a pprof profile: %w", err)
	}
	return &p, nil
}
