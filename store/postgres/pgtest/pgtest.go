// Package pgtest starts a throwaway PostgreSQL server for tests and
// benchmarks: initdb on a temporary directory, the server on a free
// loopback port, a fresh database per test, everything removed at the end.
//
// The server binaries are looked up on PATH and under
// /usr/lib/postgresql/*/bin (where Debian's postgresql package puts them).
// PostgreSQL refuses to run as root, so when the caller is root the server
// runs as the unprivileged system user pmsync-test, created with useradd
// when missing.
//
// The server is started as a direct child of the calling process rather
// than through pg_ctl, which detaches it: with a parent-death signal it
// goes down with a test binary that go test's -timeout kills, instead of
// running on with nobody to stop it.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the system user the server runs as when the caller is root.
const User = "pmsync-test"

// ErrNotInstalled is returned by Start when no PostgreSQL server binaries
// are found.
var ErrNotInstalled = errors.New("no PostgreSQL server binaries (initdb, postgres) on PATH or under /usr/lib/postgresql/*/bin; install Debian's postgresql package")

// Options tune the server.
type Options struct {
	// Durable keeps PostgreSQL's default durability (fsync, synchronous
	// commit). Tests leave it off: they need no crash safety, and an fsync
	// per commit would only slow them down. Benchmarks turn it on, so that
	// they measure what an operator runs.
	Durable bool
	// Log, when set, receives the server's output; otherwise it is kept
	// and shown only when the server fails to start.
	Log *os.File
}

// Server is a running PostgreSQL server on a temporary directory.
type Server struct {
	dir  string // removed by Stop
	bin  string // the directory of initdb and postgres
	port int
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the server process has exited
	seq  atomic.Int64
	stop sync.Once
}

// Start initialises a cluster in a new temporary directory and starts a
// server on a free loopback port. It returns an error wrapping
// ErrNotInstalled when the binaries are missing.
func Start(ctx context.Context, opt Options) (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pmsync-pg-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{dir: dir, bin: bin}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	if cred != nil {
		if err := searchable(filepath.Dir(dir)); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("start postgres: hand %s to %s: %w", dir, User, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = serverEnv()
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start postgres: initdb: %w: %s", err, lastLines(string(out), 8))
	}
	// A free port can be taken by someone else between the probe and the
	// server's bind; a few tries cover that.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		err = s.launch(ctx, data, cred, opt)
		if err == nil || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// launch starts the server process on s.port and waits until it answers.
func (s *Server) launch(ctx context.Context, data string, cred *syscall.Credential, opt Options) error {
	args := []string{"-D", data, "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !opt.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.Env = serverEnv()
	// The server dies with this process, however that ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	s.out = &lockedBuffer{}
	if opt.Log != nil {
		cmd.Stdout, cmd.Stderr = opt.Log, opt.Log
	} else {
		cmd.Stdout, cmd.Stderr = s.out, s.out
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait() // its exit is seen through done
		close(s.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("start postgres on port %d: the server exited: %s", s.port, lastLines(s.out.String(), 8))
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("start postgres: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("start postgres on port %d: not answering after a minute: %w: %s", s.port, err, lastLines(s.out.String(), 8))
		}
	}
}

// URL is the connection URL of database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Version is the server's version, as SHOW server_version gives it.
func (s *Server) Version(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	return v, nil
}

// CreateDatabase creates a new empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("pmsync_%d_%d", os.Getpid(), s.seq.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// DropDatabase drops the database of url, closing its connections.
func (s *Server) DropDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("drop database %s: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", cfg.Database, err)
	}
	return nil
}

// Database creates a fresh database for the test and drops it when the
// test ends. On a nil Server (none could be started because PostgreSQL is
// not installed) it skips the test.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	if s == nil {
		t.Skip("PostgreSQL is not installed: " + ErrNotInstalled.Error())
	}
	ctx := context.Background()
	url, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DropDatabase(ctx, url); err != nil {
			t.Errorf("%v", err)
		}
	})
	return url
}

// Stop shuts the server down at once and removes its directory. It is safe
// to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.kill()
		_ = os.RemoveAll(s.dir)
	})
}

// kill stops the server process: a fast shutdown, then an immediate one.
func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Main is a TestMain for a package whose tests use PostgreSQL: it starts
// one server, points *srv at it, runs the tests and stops it. Without the
// binaries it runs the tests with a nil server, whose Database skips each
// test, unless CI=true: continuous integration must exercise PostgreSQL,
// so there a missing server fails the package.
func Main(m *testing.M, srv **Server) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := Start(ctx, Options{})
	cancel()
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "pgtest: skipping the PostgreSQL tests:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	*srv = s
	code := m.Run()
	if s != nil {
		s.Stop()
	}
	return code
}

// findBinaries returns the directory holding initdb and postgres: PATH
// first, then the newest /usr/lib/postgresql/N/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(real) // /usr/local/bin/initdb may link into a versioned directory
		}
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// version reads N out of /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// credential returns whom to run the server as: nil (this process's user)
// unless this process is root, then User, created if missing.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(User)
	if err != nil {
		out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", User).CombinedOutput()
		// Another test binary may have created it meanwhile.
		if u, err = user.Lookup(User); err != nil {
			return nil, fmt.Errorf("start postgres: it refuses to run as root, and creating the user %s failed: %v: %s", User, addErr, bytes.TrimSpace(out))
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("start postgres: user %s has uid %q: %w", User, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("start postgres: user %s has gid %q: %w", User, u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// searchable checks that the server's user can reach the temporary
// directory: every directory above it must let others pass (o+x).
func searchable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("start postgres: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("start postgres: the server runs as %s, which cannot pass through %s (mode %o): chmod o+x it, or point TMPDIR elsewhere", User, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// serverEnv is a minimal environment: the caller's locale and PG*
// variables must not change how the cluster is made or reached.
func serverEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
}

// freePort asks the kernel for a loopback port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// lockedBuffer collects the server's output from its two streams.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
