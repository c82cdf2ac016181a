// Command pmsync syncs project tools into one milestone / risk / budget model
// and rolls it up for executives. Run `pmsync help` for the commands.
//
// Exit codes: 0 success; 1 the command failed (invalid configuration, a
// source or push that failed, nothing done); 2 usage error (an unknown
// command, flag, program or source); 3 partial failure (some sources or
// push targets failed, the others succeeded).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/pmsync/pmsync/config"
	_ "github.com/pmsync/pmsync/connectors/all"
	_ "time/tzdata" // time zones work on hosts without zoneinfo
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…
// -X main.date=…"; what is left empty comes from the build information Go
// records in the binary.
var (
	version = ""
	commit  = ""
	date    = ""
)

// The exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitPartial = 3
)

func main() {
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv, environ: os.Environ(), prog: progName(os.Args[0])}
	os.Exit(c.main(os.Args[1:]))
}

// run runs one command line with the given output and environment lookup,
// as tests do.
func run(args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	return (&cli{stdout: stdout, stderr: stderr, env: env, prog: "pmsync"}).main(args)
}

// cli is one invocation of the command: where it writes, what environment
// it reads and how it was called.
type cli struct {
	stdout, stderr io.Writer
	env            func(string) (string, bool)
	// environ is the process environment (NAME=value), for the warning about
	// PMSYNC_ variables pmsync does not read; nil leaves the check out.
	environ []string
	// prog is the command as it was run, for the hints it prints.
	prog string
	stop *stopper
}

// progName is how hints name the command: as it was run, or `go run
// ./cmd/pmsync` when it runs from the build cache.
func progName(arg0 string) string {
	if strings.Contains(filepath.ToSlash(arg0), "/go-build") {
		return "go run ./cmd/pmsync"
	}
	if arg0 == "" {
		return "pmsync"
	}
	return arg0
}

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("usage")

// partialError marks a run in which some sources or targets failed and
// others succeeded (exit code 3).
type partialError struct{ err error }

func (e partialError) Error() string { return e.err.Error() }
func (e partialError) Unwrap() error { return e.err }

func (c *cli) main(args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		c.usage(c.stdout)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	cmd := lookupCommand(name)
	if cmd == nil {
		fmt.Fprintf(c.stderr, "%s: unknown command %q%s\n\n", "pmsync", name, suggest(name, commandNames()))
		c.usage(c.stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet("pmsync "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	runCmd := cmd.define(c, fs)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.commandHelp(c.stdout, cmd)
			return exitOK
		}
		return c.exit(cmd.name, fmt.Errorf("%w: %v", errUsage, strings.Replace(err.Error(), " -", " --", 1)))
	}
	if fs.NArg() > len(cmd.args) {
		return c.exit(cmd.name, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(len(cmd.args))))
	}
	ctx, stop := signalContext(cmd.name == "run")
	defer stop.release()
	c.stop = stop
	return c.exit(cmd.name, runCmd(ctx, fs.Args()))
}

// exit prints err and returns the exit code it stands for.
func (c *cli) exit(name string, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		fmt.Fprintf(c.stderr, "pmsync %s: %s\nRun '%s help %s' for its flags.\n", name, msg, c.prog, name)
		return exitUsage
	}
	var probs config.Problems
	if errors.As(err, &probs) {
		fmt.Fprintln(c.stderr, probs.Error())
		fmt.Fprintf(c.stderr, "pmsync %s: %d problem(s) in the configuration\n", name, len(probs))
		return exitFailed
	}
	for _, line := range splitErr(err) {
		fmt.Fprintf(c.stderr, "pmsync %s: %s\n", name, line)
	}
	if errors.As(err, new(partialError)) {
		return exitPartial
	}
	return exitFailed
}

// splitErr turns a joined error into one line per cause.
func splitErr(err error) []string {
	if p, ok := err.(partialError); ok {
		err = p.err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, splitErr(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// buildInfo is what `pmsync version` prints and /metrics exports.
type buildInfo struct {
	Version, Commit, Date, Go, Platform string
	Modified                            bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

func buildVersion() string { return readBuildInfo().Version }

func (b buildInfo) String() string {
	commit, date := b.Commit, b.Date
	if commit == "" {
		commit = "unknown"
	} else if b.Modified {
		commit += " (with uncommitted changes)"
	}
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("pmsync %s\ncommit: %s\ndate:   %s\ngo:     %s %s\n", b.Version, commit, date, b.Go, b.Platform)
}

// stopper turns the first SIGTERM/SIGINT into a graceful stop (finish the
// current page) and the second into a hard cancel; the daemon also hears
// SIGHUP (reload the configuration).
type stopper struct {
	graceful chan struct{}
	hup      chan struct{}
	release  func()
}

func signalContext(hup bool) (context.Context, *stopper) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stopper{graceful: make(chan struct{}), hup: make(chan struct{}, 1)}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if hup {
		signal.Notify(sigs, syscall.SIGHUP)
	}
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					select {
					case s.hup <- struct{}{}:
					default: // a reload is already pending
					}
					continue
				}
				n++
				if n == 1 {
					close(s.graceful)
				} else {
					cancel()
				}
			case <-done:
				return
			}
		}
	}()
	s.release = func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
	return ctx, s
}
