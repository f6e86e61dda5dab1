package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cinder-profiling/cinder/internal/repopath"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := repopath.Root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// sharedTestdata returns ../shared/testdata beside the repository, or skips
// the test when it is not there.
func sharedTestdata(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(dir, "golden")); err != nil {
		t.Skipf("shared test data not found at %s: golden comparisons need ../shared/testdata beside the repository", dir)
	}
	return dir
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the querier binary built for the tests (85 MB) once they
// have run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		if err := os.RemoveAll(binDir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the test binary:", err)
		}
	}
	os.Exit(code)
}

// querierBinary builds cmd/querier once per test process.
func querierBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cinder-integration-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "querier")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/querier")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is a running querier process.
type server struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port
	Pid  int
	logs *logBuffer
	// stop sends SIGTERM and waits for the exit, once; the test's cleanup
	// calls it too.
	stop func()
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenAddr = regexp.MustCompile(`msg="querier listening" addr=(\S+)`)

// startServer starts the querier on bucketDir, listening on a free loopback
// port, and waits until it reports ready. The process is stopped with
// SIGTERM when the test ends, and must exit cleanly.
func startServer(t testing.TB, bucketDir string, extraArgs ...string) *server {
	t.Helper()
	args := append([]string{
		"-server.http-listen-address=127.0.0.1",
		"-server.http-listen-port=0",
		"-storage.filesystem.dir=" + bucketDir,
		"-log.level=info",
	}, extraArgs...)
	cmd := exec.Command(querierBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logs.mu.Lock()
			logs.b.WriteString(line + "\n")
			logs.mu.Unlock()
			if m := listenAddr.FindStringSubmatch(line); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("querier exited uncleanly after SIGTERM: %v\n%s", err, logs)
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("querier did not stop within 15s of SIGTERM\n%s", logs)
			}
		})
	}
	t.Cleanup(stop)

	var addr string
	select {
	case addr = <-addrCh:
	case err := <-exited:
		t.Fatalf("querier exited at start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("querier did not report its address within 30s\n%s", logs)
	}
	s := &server{URL: "http://" + addr, Addr: addr, Pid: cmd.Process.Pid, logs: logs, stop: stop}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("querier not ready within 30s (last: %v)\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpDo sends one request and returns status, headers and body.
func httpDo(t testing.TB, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}
