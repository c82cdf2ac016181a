package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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

// common are the flags of every command that reads a configuration.
type common struct {
	config              string
	configSet           bool // named by --config or PMSYNC_CONFIG, not the default
	logLevel, logFormat string
}

func (c *cli) commonFlags(fs *flag.FlagSet) *common {
	o := &common{config: "pmsync.yaml"}
	if v, ok := c.env(config.EnvConfig); ok && v != "" {
		o.config, o.configSet = v, true
	}
	fs.Func("config", "configuration `FILE` (env PMSYNC_CONFIG)", func(v string) error {
		o.config, o.configSet = v, true
		return nil
	})
	fs.Lookup("config").DefValue = o.config
	fs.StringVar(&o.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn, error (overrides log.level and PMSYNC_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", "", "log `FORMAT`: auto, json, console (overrides log.format and PMSYNC_LOG_FORMAT)")
	return o
}

// load reads the configuration the flags name. A default file that is
// missing gets a hint at pmsync init; the log flags are applied on top;
// PMSYNC_ variables pmsync does not read are warned about.
func (c *cli) load(o *common, opts ...config.Option) (*config.Config, error) {
	if err := o.checkLogFlags(); err != nil {
		return nil, err
	}
	cfg, err := config.Load(o.config, connectors.Default, c.env, opts...)
	if errors.Is(err, fs.ErrNotExist) && !o.configSet {
		return nil, fmt.Errorf("%w\n  create one with '%s init --tools jira,asana' (or copy configs/example.yaml), or name one with --config FILE or PMSYNC_CONFIG", err, c.prog)
	}
	if err != nil {
		return nil, err
	}
	if o.logLevel != "" {
		cfg.Log.Level = o.logLevel
	}
	if o.logFormat != "" {
		cfg.Log.Format = o.logFormat
	}
	if c.environ != nil {
		for _, w := range cfg.UnknownEnv(c.environ) {
			fmt.Fprintf(c.stderr, "pmsync: warning: %s\n", w)
		}
	}
	return cfg, nil
}

// loadFor reads the configuration with the secrets of the connections
// need names and no others: a command that talks to some of the tools
// never demands credentials it will not use.
func (c *cli) loadFor(o *common, need func(*config.Config) ([]string, error), opts ...config.Option) (*config.Config, []string, error) {
	if err := o.checkLogFlags(); err != nil {
		return nil, nil, err
	}
	draft, err := config.Load(o.config, connectors.Default, c.env, append(slices.Clone(opts), config.WithoutSecrets())...)
	if errors.Is(err, fs.ErrNotExist) && !o.configSet {
		return nil, nil, fmt.Errorf("%w\n  create one with '%s init --tools jira,asana' (or copy configs/example.yaml), or name one with --config FILE or PMSYNC_CONFIG", err, c.prog)
	}
	if err != nil {
		return nil, nil, err
	}
	conns, err := need(draft)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := c.load(o, append(opts, config.SecretsOnly(conns...))...)
	return cfg, conns, err
}

func (o *common) checkLogFlags() error {
	if o.logLevel != "" && !slices.Contains([]string{"debug", "info", "warn", "error"}, o.logLevel) {
		return fmt.Errorf("%w: --log-level %q is not one of debug, info, warn, error", errUsage, o.logLevel)
	}
	if o.logFormat != "" && !slices.Contains([]string{"auto", "json", "console"}, o.logFormat) {
		return fmt.Errorf("%w: --log-format %q is not one of auto, json, console", errUsage, o.logFormat)
	}
	return nil
}

// sourceConnections returns the connections of the sources (or
// connections) names selects, all sources' when names is empty; an
// unknown name is a usage error.
func sourceConnections(cfg *config.Config, names []string) ([]string, error) {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	srcs := cfg.Sources()
	for _, n := range names {
		if !slices.ContainsFunc(srcs, func(s config.SourceRef) bool { return s.Name == n || s.Connection.Name == n }) {
			return nil, fmt.Errorf("%w: no source or connection named %q (sources: %s)", errUsage, n, strings.Join(sourceNames(cfg), ", "))
		}
	}
	for _, s := range srcs {
		if len(names) == 0 || slices.Contains(names, s.Name) || slices.Contains(names, s.Connection.Name) {
			add(s.Connection.Name)
		}
	}
	return out, nil
}

func sourceNames(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Sources() {
		out = append(out, s.Name)
	}
	return out
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
	// readOnly opens the database read-only and builds no connectors, for
	// commands that only read it.
	readOnly bool
}

// open opens the database of cfg and builds its engine.
func (c *cli) open(ctx context.Context, cfg *config.Config, o setupOptions) (*app, error) {
	log := newLogger(cfg, c.stderr, !o.daemon)
	o.engine.ReadOnly = o.engine.ReadOnly || o.readOnly
	open := openStore
	if o.readOnly {
		open = openReadStore
	}
	db, err := open(ctx, cfg)
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

func (c *cli) cmdSync(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	var sources multi
	fs.Var(&sources, "source", "sync only this source or connection `NAME` (repeatable)")
	full := fs.Bool("full", false, "ignore saved cursors: re-read everything and tombstone what is gone")
	deletions := fs.Bool("deletions", false, "also list live ids and tombstone deleted items")
	fs.Bool("once", true, "sync once and exit (the only mode; the daemon is pmsync run)")
	return func(ctx context.Context, _ []string) error {
		cfg, conns, err := c.loadFor(o, func(cfg *config.Config) ([]string, error) { return sourceConnections(cfg, sources) }, config.CheckDatabase())
		if err != nil {
			return err
		}
		a, err := c.open(ctx, cfg, setupOptions{engine: engine.Options{Connections: conns}})
		if err != nil {
			return err
		}
		defer a.Close()
		opts := engine.SyncOptions{Sources: sources, Full: *full, Deletions: *deletions, Stop: c.stop.graceful}
		if isTerminal(c.stderr) {
			opts.Progress = func(r engine.SourceResult) {
				fmt.Fprintf(c.stderr, "\r\033[Ksyncing %s: %d pages, %d records", r.Source, r.Pages, r.Seen)
			}
		}
		results, err := a.eng.Sync(ctx, opts)
		if opts.Progress != nil {
			fmt.Fprint(c.stderr, "\r\033[K")
		}
		printSync(c.stdout, results)
		if errors.Is(err, engine.ErrNoSuchSource) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return syncOutcome(results, err)
	}
}

// syncOutcome marks a sync error partial when some sources succeeded.
func syncOutcome(results []engine.SourceResult, err error) error {
	if err == nil {
		return nil
	}
	if slices.ContainsFunc(results, func(r engine.SourceResult) bool { return r.Status == "ok" }) {
		return partialError{err}
	}
	return err
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

func (c *cli) cmdRollup(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	var programs multi
	fs.Var(&programs, "program", "roll up only this program `ID` (repeatable)")
	format := fs.String("format", "table", "output `FORMAT`: "+strings.Join(report.Formats, ", "))
	since := fs.String("since", "", "trend window: `DAYS` (28d), weeks (4w) or a date (2026-06-01); default 28d")
	changesSince := fs.String("changes-since", "", "also say what changed since a `DATE` (2026-06-01) or that many days ago (7d)")
	explain := fs.Bool("explain", false, "list, for every figure, the items behind it instead of the rollup")
	return func(ctx context.Context, _ []string) error {
		if !validFormat(*format) {
			return fmt.Errorf("%w: --format %q is not one of %s", errUsage, *format, strings.Join(report.Formats, ", "))
		}
		cfg, err := c.load(o, config.WithoutSecrets())
		if err != nil {
			return err
		}
		today := pmsync.DateOf(time.Now().In(cfg.Location()))
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
		a, err := c.open(ctx, cfg, setupOptions{readOnly: true})
		if err != nil {
			return err
		}
		defer a.Close()
		if *explain {
			ex, err := a.eng.Explain(ctx, opts)
			if errors.Is(err, engine.ErrNoSuchProgram) {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			if err != nil {
				return err
			}
			return report.WriteExplain(c.stdout, ex, *format)
		}
		rep, err := a.eng.Rollup(ctx, opts)
		if errors.Is(err, engine.ErrNoSuchProgram) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if err != nil {
			return err
		}
		return report.Write(c.stdout, rep, *format)
	}
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

func validFormat(f string) bool { return slices.Contains(report.Formats, f) }

func (c *cli) cmdPush(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	dry := fs.Bool("dry-run", false, "show what would be pushed; write nothing anywhere (needs no vendor credentials)")
	return func(ctx context.Context, _ []string) error {
		var cfg *config.Config
		var conns []string
		var err error
		if *dry {
			cfg, err = c.load(o, config.WithoutSecrets())
		} else {
			cfg, conns, err = c.loadFor(o, func(cfg *config.Config) ([]string, error) {
				var out []string
				for _, p := range cfg.Push {
					if p.Connection != "" && !slices.Contains(out, p.Connection) {
						out = append(out, p.Connection)
					}
					if p.Webhook != nil {
						out = append(out, p.Key()) // its URL and signing secret
					}
				}
				return out, nil
			}, config.CheckDatabase())
		}
		if err != nil {
			return err
		}
		a, err := c.open(ctx, cfg, setupOptions{readOnly: *dry, engine: engine.Options{Connections: conns}})
		if err != nil {
			return err
		}
		defer a.Close()
		results, err := a.eng.Push(ctx, *dry)
		printPush(c.stdout, results, *dry)
		if len(results) == 0 && err == nil {
			fmt.Fprintln(c.stderr, "no push targets configured")
		}
		if err != nil && slices.ContainsFunc(results, func(r engine.PushResult) bool { return r.Status != "failed" }) {
			return partialError{err}
		}
		return err
	}
}

// printPush writes one line per target and program (a webhook or file
// target has one line for its report), and on a dry run, below, exactly
// what each target would be sent and which targets already have it.
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

func (c *cli) cmdValidate(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	probe := fs.Bool("probe", false, "also check credentials and map a sample of each source")
	var sources multi
	fs.Var(&sources, "source", "with --probe: probe only this source or connection `NAME` (repeatable)")
	return func(ctx context.Context, _ []string) error {
		if len(sources) > 0 && !*probe {
			return fmt.Errorf("%w: --source needs --probe", errUsage)
		}
		var cfg *config.Config
		var conns []string
		var err error
		if *probe {
			cfg, conns, err = c.loadFor(o, func(cfg *config.Config) ([]string, error) { return sourceConnections(cfg, sources) }, config.CheckDatabase())
		} else {
			cfg, err = c.load(o, config.CheckDatabase())
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: ok (%d connections, %d programs, %d sources)\n", o.config, len(cfg.Connections), len(cfg.Programs), len(cfg.Sources()))
		if !*probe {
			return nil
		}
		eng, err := engine.New(cfg, nil, engine.Options{Log: newLogger(cfg, c.stderr, true), Connections: conns})
		if err != nil {
			return err
		}
		return probeSources(ctx, cfg, eng, sources, c.stdout)
	}
}

// errProbeDone ends a probe pull after its first page.
var errProbeDone = errors.New("probe done")

// probeSources maps the first page of each selected source and reports,
// in a stable order, the records that would be quarantined and the values
// that no map covers and no default catches.
func probeSources(ctx context.Context, cfg *config.Config, eng *engine.Engine, names []string, w io.Writer) error {
	var errs []error
	if err := eng.Check(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, src := range cfg.Sources() {
		if len(names) > 0 && !slices.Contains(names, src.Name) && !slices.Contains(names, src.Connection.Name) {
			continue
		}
		conn, _ := eng.Connector(src.Connection.Name)
		set := cfg.Mapping(src.Mapping)
		var records, mapped int
		failures := map[string]int{}
		misses := map[string]int{}
		redacted := map[string]int{}
		scope, err := engine.ScopeFor(cfg, src)
		if err != nil {
			return err
		}
		err = conn.Pull(ctx, scope, "", func(p connectors.Page) error {
			for _, rec := range p.Records {
				records++
				rec.Source = src.Name
				_, ex, err := set.Probe(rec)
				if err != nil {
					failures[err.Error()]++
					continue
				}
				mapped++
				for rule, n := range ex.Redacted {
					redacted[rule] += n
				}
				for _, miss := range ex.Misses {
					if miss.Defaulted {
						continue // the rule's default covers it: not a gap
					}
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
		fmt.Fprintf(w, "  %s\n", redactionReport(set, redacted))
		for _, f := range byCount(failures) {
			fmt.Fprintf(w, "  would quarantine %d: %s\n", failures[f], f)
		}
		for _, m := range byCount(misses) {
			fmt.Fprintf(w, "  unmapped value %s (%d records): add it to the mapping's map\n", m, misses[m])
		}
	}
	return errors.Join(errs...)
}

// byCount orders the keys of m by count, most first, then by text.
func byCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	return keys
}

func (c *cli) cmdQuarantine(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	var sources multi
	fs.Var(&sources, "source", "list only this source `NAME` (repeatable)")
	return func(ctx context.Context, _ []string) error {
		cfg, err := c.load(o, config.WithoutSecrets())
		if err != nil {
			return err
		}
		for _, s := range sources {
			if !slices.Contains(sourceNames(cfg), s) {
				return fmt.Errorf("%w: no source named %q (sources: %s)", errUsage, s, strings.Join(sourceNames(cfg), ", "))
			}
		}
		a, err := c.open(ctx, cfg, setupOptions{readOnly: true})
		if err != nil {
			return err
		}
		defer a.Close()
		if len(sources) == 0 {
			sources = multi{""}
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
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
		fmt.Fprintf(c.stdout, "%d record(s) quarantined; a record leaves quarantine once it maps (fix the mapping: the next sync re-reads everything) or is deleted at the source\n", n)
		return nil
	}
}

func (c *cli) cmdConfig(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	return func(context.Context, []string) error {
		cfg, err := c.load(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "# the effective configuration of %s; FROM: file, default, env VAR (an override), or where a secret is read\n", o.config)
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
		for _, s := range cfg.Settings() {
			v := s.Value
			if v == "" {
				v = `""`
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, s.From)
		}
		return tw.Flush()
	}
}

func (c *cli) cmdSchema(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(context.Context, []string) error {
		b, err := config.Schema(connectors.Default)
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(b)
		return err
	}
}
