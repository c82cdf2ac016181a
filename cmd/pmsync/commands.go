package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/report"
	"github.com/pmsync/pmsync/store"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pmsync "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// flags makes a flag set with the shared --config flag.
func flags(name string, stderr io.Writer, env func(string) (string, bool)) (*flag.FlagSet, *string) {
	fs := newFlagSet(name, stderr)
	def := "pmsync.yaml"
	if v, ok := env("PMSYNC_CONFIG"); ok && v != "" {
		def = v
	}
	path := fs.String("config", def, "configuration file (env PMSYNC_CONFIG)")
	return fs, path
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// newLogger logs JSON, or a console format when stderr is a terminal.
// One-shot commands print their own summary, so their run lines (info) are
// shown only when the configuration asks for debug.
func newLogger(cfg *config.Config, stderr io.Writer, oneShot bool) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil || cfg.Log.Level == "" {
		level = zerolog.InfoLevel
	}
	if oneShot && level == zerolog.InfoLevel {
		level = zerolog.WarnLevel
	}
	var w io.Writer = stderr
	console := cfg.Log.Format == "console"
	if cfg.Log.Format == "" || cfg.Log.Format == "auto" {
		console = isTerminal(stderr)
	}
	if console {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// app is a loaded configuration with its store and engine.
type app struct {
	cfg *config.Config
	db  store.Store
	eng *engine.Engine
	log zerolog.Logger
}

func (a *app) Close() {
	if a.db != nil {
		_ = a.db.Close()
	}
}

type setupOptions struct {
	engine engine.Options
	daemon bool
	// readOnly loads the config without secrets and builds no connectors,
	// for commands that only read the database.
	readOnly bool
}

func setup(ctx context.Context, path string, env func(string) (string, bool), stderr io.Writer, o setupOptions) (*app, error) {
	var opts []config.Option
	if o.readOnly {
		opts = append(opts, config.WithoutSecrets())
		o.engine.ReadOnly = true
	}
	cfg, err := config.Load(path, connectors.Default, env, opts...)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, stderr, !o.daemon)
	db, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o.engine.Log = log
	eng, err := engine.New(cfg, db, o.engine)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &app{cfg: cfg, db: db, eng: eng, log: log}, nil
}

func cmdSync(ctx context.Context, stop *stopper, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs, path := flags("sync", stderr, env)
	var sources multi
	fs.Var(&sources, "source", "sync only this source or connection (repeatable)")
	full := fs.Bool("full", false, "ignore saved cursors: re-read everything and tombstone what is gone")
	deletions := fs.Bool("deletions", false, "also list live ids and tombstone deleted items")
	fs.Bool("once", true, "sync once and exit (the only mode; the daemon is pmsync run)")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := setup(ctx, *path, env, stderr, setupOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	opts := engine.SyncOptions{Sources: sources, Full: *full, Deletions: *deletions, Stop: stop.graceful}
	if isTerminal(stderr) {
		opts.Progress = func(r engine.SourceResult) {
			fmt.Fprintf(stderr, "\r\033[Ksyncing %s: %d pages, %d records", r.Source, r.Pages, r.Seen)
		}
	}
	results, err := a.eng.Sync(ctx, opts)
	if opts.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	printSync(stdout, results)
	if err != nil {
		if errors.Is(err, engine.ErrNoSuchSource) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	return nil
}

func printSync(w io.Writer, results []engine.SourceResult) {
	if len(results) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tCONNECTION\tSTATUS\tPAGES\tRECORDS\tCHANGED\tQUARANTINED\tDELETED\tREQUESTS\tTIME")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Source, r.Connection, r.Status, r.Pages, r.Seen, r.Changed, r.Quarantined, r.Deleted, r.Requests, r.Duration.Round(time.Millisecond))
	}
	_ = tw.Flush()
}

func cmdRollup(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs, path := flags("rollup", stderr, env)
	var programs multi
	fs.Var(&programs, "program", "roll up only this program id (repeatable)")
	format := fs.String("format", "table", "output format: "+strings.Join(report.Formats, ", "))
	if err := parse(fs, args); err != nil {
		return err
	}
	if !validFormat(*format) {
		return fmt.Errorf("%w: --format %q is not one of %s", errUsage, *format, strings.Join(report.Formats, ", "))
	}
	a, err := setup(ctx, *path, env, stderr, setupOptions{readOnly: true})
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.eng.Rollup(ctx, engine.RollupOptions{Programs: programs})
	if err != nil {
		return err
	}
	return report.Write(stdout, rep, *format)
}

func validFormat(f string) bool {
	for _, ok := range report.Formats {
		if f == ok {
			return true
		}
	}
	return false
}

func cmdPush(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs, path := flags("push", stderr, env)
	dry := fs.Bool("dry-run", false, "show what would be pushed; write nothing anywhere")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := setup(ctx, *path, env, stderr, setupOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	results, err := a.eng.Push(ctx, *dry)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tPROGRAM\tVERSION\tSTATUS\tHEALTH\tRECEIPT")
	for _, r := range results {
		receipt := r.Receipt
		if r.Err != nil {
			receipt = r.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Program, r.Version, r.Status, r.Rollup.Health.Status, receipt)
	}
	_ = tw.Flush()
	if len(results) == 0 && err == nil {
		fmt.Fprintln(stdout, "no push targets configured")
	}
	return err
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs, path := flags("validate", stderr, env)
	probe := fs.Bool("probe", false, "also check credentials and map a sample of each source")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, connectors.Default, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d connections, %d programs, %d sources)\n", *path, len(cfg.Connections), len(cfg.Programs), len(cfg.Sources()))
	if !*probe {
		return nil
	}
	log := newLogger(cfg, stderr, true)
	eng, err := engine.New(cfg, nil, engine.Options{Log: log})
	if err != nil {
		return err
	}
	return probeSources(ctx, cfg, eng, stdout)
}

// errProbeDone ends a probe pull after its first page.
var errProbeDone = errors.New("probe done")

func probeSources(ctx context.Context, cfg *config.Config, eng *engine.Engine, w io.Writer) error {
	var errs []error
	if err := eng.Check(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, src := range cfg.Sources() {
		conn, _ := eng.Connector(src.Connection.Name)
		set := cfg.Mapping(src.Mapping)
		var records, mapped int
		failures := map[string]int{}
		misses := map[string]int{}
		scope, err := engine.ScopeFor(cfg, src)
		if err != nil {
			return err
		}
		err = conn.Pull(ctx, scope, "", func(p connectors.Page) error {
			for _, rec := range p.Records {
				records++
				rec.Source = src.Name
				_, m, err := set.Explain(rec)
				if err != nil {
					failures[err.Error()]++
					continue
				}
				mapped++
				for _, miss := range m {
					misses[fmt.Sprintf("%s %q", miss.Field, miss.Value)]++
				}
			}
			return errProbeDone
		})
		if err != nil && !errors.Is(err, errProbeDone) {
			errs = append(errs, fmt.Errorf("probe %s (connection %s): %w", src.Name, src.Connection.Name, err))
			continue
		}
		fmt.Fprintf(w, "source %s: %d sample records, %d mapped with %s\n", src.Name, records, mapped, src.Mapping)
		for msg, n := range failures {
			fmt.Fprintf(w, "  would quarantine %d: %s\n", n, msg)
		}
		for miss, n := range misses {
			fmt.Fprintf(w, "  unmapped value %s (%d records): add it to the mapping's map\n", miss, n)
		}
	}
	return errors.Join(errs...)
}

func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs, path := flags("quarantine", stderr, env)
	var sources multi
	fs.Var(&sources, "source", "list only this source (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := setup(ctx, *path, env, stderr, setupOptions{readOnly: true})
	if err != nil {
		return err
	}
	defer a.Close()
	for _, s := range sources {
		if !slices.ContainsFunc(a.cfg.Sources(), func(r config.SourceRef) bool { return r.Name == s }) {
			return fmt.Errorf("%w: no source named %q", errUsage, s)
		}
	}
	if len(sources) == 0 {
		sources = multi{""}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tEXTERNAL ID\tFIRST SEEN\tLAST SEEN\tREASON")
	n := 0
	for _, s := range sources {
		q, err := a.db.Quarantine(ctx, s)
		if err != nil {
			return err
		}
		for _, r := range q {
			n++
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Source, r.ExternalID, r.FirstSeen.Format(time.DateTime), r.At.Format(time.DateTime), r.Reason)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "%d record(s) quarantined; a record leaves quarantine once it maps (fix the mapping: the next sync re-reads everything) or is deleted at the source\n", n)
	return nil
}
