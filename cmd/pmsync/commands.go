package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
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
	since := fs.String("since", "", "trend window: days (28d), weeks (4w) or a date (2026-06-01); default 28d")
	changesSince := fs.String("changes-since", "", "also say what changed since a date (2026-06-01) or that many days ago (7d)")
	explain := fs.Bool("explain", false, "list, for every figure, the items behind it instead of the rollup")
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
	today := pmsync.DateOf(time.Now().In(a.cfg.Location()))
	opts := engine.RollupOptions{Programs: programs}
	if *since != "" {
		days, err := daysBack(*since, today)
		if err != nil {
			return fmt.Errorf("%w: --since %v", errUsage, err)
		}
		opts.TrendDays = days
	}
	if *changesSince != "" {
		days, err := daysBack(*changesSince, today)
		if err != nil {
			return fmt.Errorf("%w: --changes-since %v", errUsage, err)
		}
		opts.ChangesSince = today.AddDays(-days)
	}
	if *explain {
		ex, err := a.eng.Explain(ctx, opts)
		if err != nil {
			return err
		}
		return report.WriteExplain(stdout, ex, *format)
	}
	var rep pmsync.Report
	if len(programs) == 0 && opts.TrendDays == 0 && opts.ChangesSince == "" {
		// The report everyone reads: computing it on demand also brings the
		// served one (dashboard, API) up to date.
		rep, err = a.eng.Refresh(ctx)
	} else {
		rep, err = a.eng.Rollup(ctx, opts)
	}
	if err != nil {
		return err
	}
	return report.Write(stdout, rep, *format)
}

// daysBack reads "28d", "4w" or a date, and returns how many days before
// today it reaches.
func daysBack(s string, today pmsync.Date) (int, error) {
	s = strings.TrimSpace(s)
	if d, err := pmsync.ParseDate(s); err == nil && len(s) == len(pmsync.DateLayout) {
		n := d.DaysUntil(today)
		if n < 0 {
			return 0, fmt.Errorf("%s is after today (%s)", s, today)
		}
		return n, nil
	}
	unit := 1
	switch {
	case strings.HasSuffix(s, "d"):
	case strings.HasSuffix(s, "w"):
		unit = 7
	default:
		return 0, fmt.Errorf("%q is not a number of days (28d), weeks (4w) or a date (YYYY-MM-DD)", s)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(s, "d"), "w"))
	if err != nil || n < 0 || n > 3660 {
		return 0, fmt.Errorf("%q is not a number of days (28d), weeks (4w) or a date (YYYY-MM-DD)", s)
	}
	return n * unit, nil
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
	printPush(stdout, results, *dry)
	if len(results) == 0 && err == nil {
		fmt.Fprintln(stdout, "no push targets configured")
	}
	return err
}

// printPush writes one line per target and program (a webhook or file
// target has one line for its report), and on a dry run, below, exactly
// what each target would be sent.
func printPush(w io.Writer, results []engine.PushResult, dry bool) {
	if len(results) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tPROGRAM\tVERSION\tSTATUS\tHEALTH\tRECEIPT")
	for _, r := range results {
		receipt := r.Receipt
		if r.Err != nil {
			receipt = r.Err.Error()
		}
		program, health := r.Program, string(r.Rollup.Health.Status)
		if program == engine.ReportProgram {
			program, health = "(report)", "—"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, program, r.Version, r.Status, health, receipt)
	}
	_ = tw.Flush()
	if !dry {
		return
	}
	var unchanged []string
	for _, r := range results {
		if r.Status == "unchanged" {
			unchanged = append(unchanged, r.Target)
		}
		if r.Preview == nil {
			continue
		}
		what := "program " + r.Program
		if r.Program == engine.ReportProgram {
			what = "report"
		}
		fmt.Fprintf(w, "\n=== %s: %s version %s would be sent: %s\n", r.Target, what, r.Version, r.Preview.Where)
		keys := make([]string, 0, len(r.Preview.Header))
		for k := range r.Preview.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(r.Preview.Header[k], ", "))
		}
		if len(keys) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprint(w, r.Preview.Body)
		if !strings.HasSuffix(r.Preview.Body, "\n") {
			fmt.Fprintln(w)
		}
	}
	if len(unchanged) > 0 {
		slices.Sort(unchanged)
		fmt.Fprintf(w, "\nunchanged (already delivered): %s\n", strings.Join(slices.Compact(unchanged), ", "))
	}
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
