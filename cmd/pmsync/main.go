// Command pmsync syncs project tools into one milestone / risk / budget model
// and rolls it up for executives. Run `pmsync help` for the commands.
//
// Exit codes: 0 success; 1 the command failed (invalid configuration, a
// source that failed to sync, a push that failed); 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/pmsync/pmsync/config"
	_ "github.com/pmsync/pmsync/connectors/all"
	_ "time/tzdata" // time zones work on hosts without zoneinfo
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

const usage = `pmsync — project-management sync and executive rollups

Usage: pmsync <command> [flags]

Commands:
  run        the daemon: scheduled sync, rollup and push, plus the dashboard
  sync       pull sources now       [--once] [--source NAME]... [--full] [--deletions]
  rollup     print the rollup       [--program ID]... [--format table|json|csv|md]
                                    [--since 28d|4w|DATE] [--changes-since DATE|7d] [--explain]
  push       roll up and deliver    [--dry-run]
  validate   check the config       [--probe]
  quarantine list records that failed to map, with the reason   [--source NAME]...
  demo       run on built-in simulated vendors and print the rollup   [--serve]
  version    print the version

Every command except demo and version takes --config FILE (default: $PMSYNC_CONFIG, else pmsync.yaml).
Exit codes: 0 ok, 1 failed, 2 usage.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signalContext()
	defer stop.release()
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, stop, rest, stdout, stderr, env)
	case "sync":
		err = cmdSync(ctx, stop, rest, stdout, stderr, env)
	case "rollup":
		err = cmdRollup(ctx, rest, stdout, stderr, env)
	case "push":
		err = cmdPush(ctx, rest, stdout, stderr, env)
	case "validate":
		err = cmdValidate(ctx, rest, stdout, stderr, env)
	case "quarantine":
		err = cmdQuarantine(ctx, rest, stdout, stderr, env)
	case "demo":
		err = cmdDemo(ctx, stop, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "pmsync", buildVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pmsync: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "pmsync %s: %v\n", cmd, err)
		return 2
	}
	var probs config.Problems
	if errors.As(err, &probs) {
		fmt.Fprintln(stderr, probs.Error())
		fmt.Fprintf(stderr, "pmsync %s: %d problem(s) in the configuration\n", cmd, len(probs))
		return 1
	}
	for _, line := range splitErr(err) {
		fmt.Fprintf(stderr, "pmsync %s: %s\n", cmd, line)
	}
	return 1
}

// splitErr turns a joined error into one line per cause.
func splitErr(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, splitErr(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// stopper turns the first SIGTERM/SIGINT into a graceful stop (finish the
// current page) and the second into a hard cancel.
type stopper struct {
	graceful chan struct{}
	release  func()
}

func signalContext() (context.Context, *stopper) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stopper{graceful: make(chan struct{})}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-sigs:
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
