package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cinder-profiling/cinder/pkg/blockwriter"
	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// synthConfig are the flags of "synth".
type synthConfig struct {
	commonFlags
	services        int
	podsPerService  int
	profileTypes    string
	hours           float64
	profilesPerHour int
	depth           int
	fanout          int
	distinctStacks  int
	samplesPerProf  int
	end             string
}

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c synthConfig
	c.register(fs)
	fs.IntVar(&c.services, "services", 4, "number of services (service_name values)")
	fs.IntVar(&c.podsPerService, "pods-per-service", 2, "pods per service; each pod is a series per sample type")
	fs.StringVar(&c.profileTypes, "profile-types", "cpu,memory", "comma-separated: cpu (process_cpu cpu + samples), memory (alloc/inuse objects/space)")
	fs.Float64Var(&c.hours, "hours", 3, "hours of data, ending at -end")
	fs.IntVar(&c.profilesPerHour, "profiles-per-hour", 12, "profiles per pod and profile type per hour")
	fs.IntVar(&c.depth, "depth", 16, "maximum stack depth")
	fs.IntVar(&c.fanout, "fanout", 4, "maximum callees per function in the call tree")
	fs.IntVar(&c.distinctStacks, "distinct-stacks", 2000, "distinct stacks per service")
	fs.IntVar(&c.samplesPerProf, "samples-per-profile", 0, "distinct stacks sampled per profile (0: distinct-stacks/10, between 20 and 2000)")
	fs.StringVar(&c.end, "end", "now", `end of the data: "now" or an RFC 3339 time`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: blockgen synth -bucket DIR [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	end := time.Now()
	if c.end != "now" {
		var err error
		if end, err = time.Parse(time.RFC3339, c.end); err != nil {
			return fmt.Errorf("-end: %w", err)
		}
	}
	types, err := parseProfileTypes(c.profileTypes)
	if err != nil {
		return err
	}
	switch {
	case c.services < 1 || c.podsPerService < 1 || c.profilesPerHour < 1:
		return fmt.Errorf("-services, -pods-per-service and -profiles-per-hour must be positive")
	case c.hours <= 0:
		return fmt.Errorf("-hours must be positive")
	case c.depth < 2 || c.fanout < 1 || c.distinctStacks < 1:
		return fmt.Errorf("-depth must be at least 2, -fanout and -distinct-stacks at least 1")
	}
	if c.samplesPerProf <= 0 {
		c.samplesPerProf = min(max(c.distinctStacks/10, 20), 2000)
	}
	w, err := c.writer()
	if err != nil {
		return err
	}

	started := time.Now()
	rng := rand.New(rand.NewPCG(c.seed, 0x5eed))
	services := make([]*synthService, c.services)
	for i := range services {
		services[i] = newSynthService(rng, i, c.depth, c.fanout, c.distinctStacks)
	}
	span := time.Duration(c.hours * float64(time.Hour))
	start := end.Add(-span)
	ticks := int(math.Ceil(c.hours * float64(c.profilesPerHour)))
	interval := span / time.Duration(ticks)

	var sum summary
	for tick := 0; tick < ticks; tick++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		tickTime := start.Add(time.Duration(tick) * interval).UnixNano()
		infos, err := w.FlushBefore(ctx, tickTime)
		sum.add(infos, stderr)
		if err != nil {
			return err
		}
		for _, svc := range services {
			for pod := 0; pod < c.podsPerService; pod++ {
				for _, typ := range types {
					// Pods do not profile in lockstep.
					ts := tickTime + rng.Int64N(int64(interval)/2+1)
					if ts >= end.UnixNano() {
						ts = end.UnixNano() - 1
					}
					p := svc.profile(rng, typ, c.samplesPerProf, ts, interval)
					if err := w.Add(svc.labels(pod, typ), p, ts); err != nil {
						return fmt.Errorf("service %s, pod %d: %w", svc.name, pod, err)
					}
				}
			}
		}
	}
	infos, err := w.Flush(ctx)
	sum.add(infos, stderr)
	if err != nil {
		return err
	}
	sum.print(stdout, time.Since(started))
	return nil
}

type profileKind int

const (
	kindCPU profileKind = iota
	kindMemory
)

func parseProfileTypes(s string) ([]profileKind, error) {
	var out []profileKind
	for _, t := range strings.Split(s, ",") {
		switch strings.TrimSpace(t) {
		case "cpu", "process_cpu":
			out = append(out, kindCPU)
		case "memory", "heap", "mem":
			out = append(out, kindMemory)
		case "":
		default:
			return nil, fmt.Errorf("-profile-types: unknown type %q (want cpu, memory)", t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-profile-types: none given")
	}
	return out, nil
}

// Name parts for Go-like function names.
var (
	serviceNames = []string{"cart", "checkout", "catalog", "payments", "frontend", "search", "auth", "shipping",
		"inventory", "ledger", "notifier", "recommend", "gateway", "billing", "profile", "media"}
	packageNames = []string{"handler", "store", "cache", "codec", "queue", "worker", "rpc", "metrics", "pricing",
		"index", "session", "auth", "render", "ingest", "batch", "compress"}
	typeNames = []string{"Server", "Client", "Pool", "Encoder", "Decoder", "Index", "Batch", "Conn", "Tracker",
		"Limiter", "Planner", "Cursor", "Shard", "Reader", "Writer", "Manager"}
	methodNames = []string{"Serve", "Handle", "Get", "Put", "Lookup", "Encode", "Decode", "Flush", "Scan", "Merge",
		"Process", "Validate", "Compute", "Load", "Store", "Range", "Apply", "Next", "Close", "Run"}
	libraryFuncs = []string{
		"net/http.(*conn).serve", "net/http.serverHandler.ServeHTTP", "net/http.HandlerFunc.ServeHTTP",
		"google.golang.org/grpc.(*Server).handleStream", "google.golang.org/grpc.(*Server).processUnaryRPC",
		"encoding/json.Marshal", "encoding/json.(*decodeState).object", "encoding/json.(*encodeState).marshal",
		"bytes.(*Buffer).Write", "bytes.(*Buffer).grow", "strings.(*Builder).WriteString", "strconv.AppendInt",
		"sort.Slice", "sync.(*Mutex).Lock", "sync.(*Pool).Get", "fmt.Sprintf", "fmt.(*pp).doPrintf",
		"compress/flate.(*compressor).deflate", "crypto/sha256.block", "hash/crc32.ieeeCLMUL",
		"github.com/golang/protobuf/proto.Marshal", "google.golang.org/protobuf/internal/impl.(*MessageInfo).marshal",
		"database/sql.(*DB).QueryContext", "database/sql.(*Rows).Next", "io.ReadAll", "bufio.(*Reader).Read",
		"context.(*cancelCtx).Done", "time.Now", "regexp.(*Regexp).FindStringSubmatch",
	}
	leafFuncs = []string{
		"runtime.mallocgc", "runtime.memmove", "runtime.mapaccess2_faststr", "runtime.mapassign", "runtime.growslice",
		"runtime.makeslice", "runtime.scanobject", "runtime.futex", "syscall.Syscall", "runtime.memclrNoHeapPointers",
		"runtime.newobject", "runtime.concatstrings", "aeshashbody", "runtime.selectgo", "internal/runtime/syscall.Syscall6",
	}
)

// synthService is one service's code: a call tree of functions and the
// stacks its pods are sampled in.
type synthService struct {
	name      string
	funcs     []string // function names; a stack refers to them by index
	inlinedBy map[int32]int32
	stacks    [][]int32 // root first
	zipf      *rand.Zipf
	buildID   string
}

func newSynthService(rng *rand.Rand, i, depth, fanout, distinct int) *synthService {
	name := serviceNames[i%len(serviceNames)]
	if i >= len(serviceNames) {
		name = fmt.Sprintf("%s-%d", name, i/len(serviceNames))
	}
	s := &synthService{name: name, inlinedBy: map[int32]int32{}, buildID: fmt.Sprintf("%016x", rng.Uint64())}
	index := map[string]int32{}
	intern := func(f string) int32 {
		if id, ok := index[f]; ok {
			return id
		}
		id := int32(len(s.funcs))
		s.funcs = append(s.funcs, f)
		index[f] = id
		return id
	}
	// The service's own functions, about as many as there are nodes on
	// the widest level of a tree that holds the distinct stacks.
	nOwn := min(max(distinct/4, 32), 20000)
	own := make([]int32, nOwn)
	for k := range own {
		f := fmt.Sprintf("github.com/acme/%s/internal/%s.(*%s).%s",
			name, packageNames[rng.IntN(len(packageNames))], typeNames[rng.IntN(len(typeNames))], methodNames[rng.IntN(len(methodNames))])
		if k >= len(packageNames)*len(typeNames)*len(methodNames)/2 {
			f = fmt.Sprintf("%s%d", f, k)
		}
		own[k] = intern(f)
	}
	lib := make([]int32, len(libraryFuncs))
	for k, f := range libraryFuncs {
		lib[k] = intern(f)
	}
	leaves := make([]int32, len(leafFuncs))
	for k, f := range leafFuncs {
		leaves[k] = intern(f)
	}
	// Some functions are inlined into their caller: their location has two
	// lines.
	for k := 0; k < len(own); k += 7 {
		s.inlinedBy[own[k]] = lib[rng.IntN(len(lib))]
	}
	roots := []int32{intern("runtime.goexit"), intern("main.main")}
	entry := []int32{intern("net/http.(*conn).serve"), intern("google.golang.org/grpc.(*Server).handleStream"), intern("github.com/acme/" + name + "/internal/worker.(*Pool).run")}

	// A node's callees are derived from a hash of its path, so that the
	// tree is implicit: fanout children, picked with a skew towards the
	// first ones.
	seen := map[string]bool{}
	var path []int32
	for attempts := 0; len(s.stacks) < distinct && attempts < distinct*20; attempts++ {
		path = append(path[:0], roots[0], entry[rng.IntN(len(entry))])
		d := 3 + rng.IntN(max(depth-2, 1))
		h := uint64(path[1]) * 0x9e3779b97f4a7c15
		for len(path) < d-1 {
			child := int(math.Min(float64(fanout-1), math.Floor(rng.ExpFloat64()*float64(fanout)/3)))
			h = (h ^ uint64(child+1)) * 0xbf58476d1ce4e5b9
			h ^= h >> 31
			if len(path) > 3 && h%11 == 0 {
				path = append(path, lib[h/11%uint64(len(lib))])
			} else {
				path = append(path, own[h%uint64(len(own))])
			}
		}
		path = append(path, leaves[rng.IntN(len(leaves))])
		key := fmt.Sprint(path)
		if seen[key] {
			continue
		}
		seen[key] = true
		s.stacks = append(s.stacks, append([]int32(nil), path...))
	}
	s.zipf = rand.NewZipf(rng, 1.1, 8, uint64(len(s.stacks)-1))
	return s
}

func (s *synthService) labels(pod int, kind profileKind) blockwriter.Labels {
	name := "process_cpu"
	if kind == kindMemory {
		name = "memory"
	}
	regions := []string{"us-east-1", "eu-west-1", "ap-south-1"}
	return blockwriter.Labels{
		{Name: "__name__", Value: name},
		{Name: "service_name", Value: s.name},
		{Name: "namespace", Value: "shop"},
		{Name: "pod", Value: fmt.Sprintf("%s-%06x-%d", s.name, uint32(len(s.name))*2654435761%0xffffff, pod)},
		{Name: "region", Value: regions[pod%len(regions)]},
	}
}

// profile builds one pprof profile of kind with up to n sampled stacks.
func (s *synthService) profile(rng *rand.Rand, kind profileKind, n int, ts int64, duration time.Duration) *googlev1.Profile {
	p := &googlev1.Profile{StringTable: []string{""}, TimeNanos: ts, DurationNanos: int64(duration)}
	strs := map[string]int64{"": 0}
	str := func(v string) int64 {
		if i, ok := strs[v]; ok {
			return i
		}
		p.StringTable = append(p.StringTable, v)
		strs[v] = int64(len(p.StringTable) - 1)
		return strs[v]
	}
	vt := func(t, u string) *googlev1.ValueType { return &googlev1.ValueType{Type: str(t), Unit: str(u)} }
	switch kind {
	case kindCPU:
		p.SampleType = []*googlev1.ValueType{vt("samples", "count"), vt("cpu", "nanoseconds")}
		p.PeriodType, p.Period = vt("cpu", "nanoseconds"), 10_000_000
	case kindMemory:
		p.SampleType = []*googlev1.ValueType{vt("alloc_objects", "count"), vt("alloc_space", "bytes"), vt("inuse_objects", "count"), vt("inuse_space", "bytes")}
		p.PeriodType, p.Period = vt("space", "bytes"), 512*1024
	}
	p.Mapping = []*googlev1.Mapping{{Id: 1, MemoryStart: 0x400000, MemoryLimit: 0x4000000, Filename: str("/usr/local/bin/" + s.name),
		BuildId: str(s.buildID), HasFunctions: true, HasFilenames: true, HasLineNumbers: true}}
	fnID := map[int32]uint64{}
	fn := func(f int32) uint64 {
		if id, ok := fnID[f]; ok {
			return id
		}
		id := uint64(len(p.Function) + 1)
		name := s.funcs[f]
		file := name
		if dot := strings.LastIndexByte(name, '.'); dot > 0 {
			file = name[:dot]
		}
		file = strings.ReplaceAll(file, "(*", "") + ".go"
		p.Function = append(p.Function, &googlev1.Function{Id: id, Name: str(name), SystemName: str(name), Filename: str(file), StartLine: int64(f%400 + 1)})
		fnID[f] = id
		return id
	}
	locID := map[int32]uint64{}
	loc := func(f int32) uint64 {
		if id, ok := locID[f]; ok {
			return id
		}
		id := uint64(len(p.Location) + 1)
		l := &googlev1.Location{Id: id, MappingId: 1, Address: 0x400000 + uint64(f)*64}
		if inl, ok := s.inlinedBy[f]; ok { // innermost first
			l.Line = append(l.Line, &googlev1.Line{FunctionId: fn(inl), Line: int64(inl%90 + 10)})
		}
		l.Line = append(l.Line, &googlev1.Line{FunctionId: fn(f), Line: int64(f%200 + 20)})
		p.Location = append(p.Location, l)
		locID[f] = id
		return id
	}
	picked := map[uint64]int{}
	for k := 0; k < n; k++ {
		idx := s.zipf.Uint64()
		if j, ok := picked[idx]; ok {
			v := p.Sample[j].Value
			v[0]++
			continue
		}
		stack := s.stacks[idx]
		ids := make([]uint64, len(stack))
		for j, f := range stack {
			ids[len(stack)-1-j] = loc(f) // leaf first
		}
		picked[idx] = len(p.Sample)
		p.Sample = append(p.Sample, &googlev1.Sample{LocationId: ids, Value: make([]int64, len(p.SampleType))})
		p.Sample[len(p.Sample)-1].Value[0] = 1 + int64(rng.ExpFloat64()*3)
	}
	for _, smp := range p.Sample {
		v := smp.Value
		switch kind {
		case kindCPU:
			v[1] = v[0] * p.Period
		case kindMemory:
			size := int64(16 << rng.IntN(10))
			v[0] *= 1 + int64(rng.IntN(50))
			v[1] = v[0] * size
			if rng.IntN(3) == 0 { // some of it is still live
				v[2] = max(v[0]/int64(2+rng.IntN(8)), 1)
				v[3] = v[2] * size
			}
		}
	}
	return p
}
