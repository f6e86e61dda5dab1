package cache

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	dskitcache "github.com/grafana/dskit/cache"
)

const installMemcached = "memcached is not on PATH: install it (Debian: apt-get install -y memcached) to run the memcached cache tests"

// startMemcached runs a memcached server on a free loopback port for the
// duration of the test and returns its address. Without the binary the
// test fails in CI (CI=true) and is skipped elsewhere.
func startMemcached(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(installMemcached)
		}
		t.Skip(installMemcached)
	}
	// A port found free may be taken before memcached binds it; try again.
	for attempt := 0; ; attempt++ {
		addr, err := tryMemcached(t, bin)
		if err == nil {
			return addr
		}
		if attempt == 2 {
			t.Fatalf("starting memcached: %v", err)
		}
	}
}

func tryMemcached(t testing.TB, bin string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	args := []string{"-U", "0", "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "64"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses root without -u
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("memcached on %s exited: %v", addr, err)
		default:
		}
		if memcachedAnswers(addr) {
			t.Cleanup(stop)
			return addr, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("memcached on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memcachedAnswers reports whether a server at addr answers "version".
func memcachedAnswers(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && len(line) > 8 && line[:8] == "VERSION "
}

// memcachedConfig is the flag defaults pointed at addr.
func memcachedConfig(addr string, maxItemSize int) dskitcache.MemcachedClientConfig {
	var cfg dskitcache.MemcachedClientConfig
	cfg.RegisterFlagsWithPrefix("", flag.NewFlagSet("", flag.PanicOnError))
	cfg.Addresses = []string{addr}
	cfg.Timeout = time.Second
	cfg.MaxItemSize = maxItemSize
	return cfg
}
