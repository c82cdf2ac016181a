package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/report"
	"github.com/pmsync/pmsync/sandbox"
)

// cmdDemo runs pmsync end to end on the built-in simulators: full sync of
// every program, rollup, push back into the tools, and the executive view.
// Only the rollup goes to standard output, so that `demo --format json |
// jq` works; the banner, the sync and push tables and the hints go to
// standard error.
func (c *cli) cmdDemo(fs *flag.FlagSet) func(context.Context, []string) error {
	keep := fs.Bool("serve", false, "keep running: scheduler and dashboard on --listen until Ctrl-C")
	listen := fs.String("listen", "127.0.0.1:8080", "dashboard `ADDRESS` with --serve")
	dbPath := fs.String("db", "", "database `FILE` (default: a temporary file removed on exit)")
	format := fs.String("format", "table", "rollup output `FORMAT`: "+strings.Join(report.Formats, ", "))
	logLevel := fs.String("log-level", "", "log `LEVEL`: debug, info, warn, error (default: warn, info with --serve)")
	logFormat := fs.String("log-format", "", "log `FORMAT`: auto, json, console")
	return func(ctx context.Context, _ []string) error {
		host, _, err := net.SplitHostPort(*listen)
		if err != nil {
			return fmt.Errorf("%w: --listen %q is not host:port", errUsage, *listen)
		}
		if *keep && !httpapi.IsLoopback(host) {
			// A container's demo listens on every address of the
			// container; what it serves is simulated, so no token guards it.
			fmt.Fprintf(c.stderr, "pmsync demo: the dashboard on %s has no token; it shows simulated data only\n", *listen)
		}
		if !validFormat(*format) {
			return fmt.Errorf("%w: --format %q is not one of %s", errUsage, *format, strings.Join(report.Formats, ", "))
		}
		flags := &common{logLevel: *logLevel, logFormat: *logFormat}
		if err := flags.checkLogFlags(); err != nil {
			return err
		}
		if *dbPath == "" {
			dir, err := os.MkdirTemp("", "pmsync-demo-")
			if err != nil {
				return fmt.Errorf("create a temporary directory: %w", err)
			}
			defer os.RemoveAll(dir)
			*dbPath = filepath.Join(dir, "demo.db")
		}

		demo, err := sandbox.Start(time.Now())
		if err != nil {
			return err
		}
		defer demo.Close()
		text, err := demo.Config(configs.Demo, *dbPath)
		if err != nil {
			return err
		}
		cfg, err := config.Parse("configs/demo.yaml", text, connectors.Default, demo.Lookup)
		if err != nil {
			return err
		}
		cfg.HTTP.Listen = *listen
		if *logLevel != "" {
			cfg.Log.Level = *logLevel
		}
		if *logFormat != "" {
			cfg.Log.Format = *logFormat
		}
		log := newLogger(cfg, c.stderr, !*keep)
		if !*keep && *logLevel == "" {
			log = log.Level(zerolog.WarnLevel)
		}
		db, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		reg := newRegistry()
		eng, err := engine.New(cfg, db, engine.Options{Log: log, Metrics: engine.NewMetrics(reg)})
		if err != nil {
			return err
		}

		fmt.Fprintf(c.stderr, "pmsync demo: simulated Jira Cloud (%d issues), Asana (%d tasks), Smartsheet (%d rows) and Trello (%d cards) on loopback\n\n",
			sandbox.JiraIssues, sandbox.AsanaTasks, sandbox.SmartsheetRows, sandbox.TrelloCards)
		results, err := eng.Sync(ctx, engine.SyncOptions{Stop: c.stop.graceful})
		printSync(c.stderr, results)
		if err != nil {
			return syncOutcome(results, err)
		}
		pushes, err := eng.Push(ctx, false)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stderr)
		tw := tabwriter.NewWriter(c.stderr, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PUSHED TO\tPROGRAM\tSTATUS\tRECEIPT")
		for _, p := range pushes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Target, p.Program, p.Status, p.Receipt)
		}
		_ = tw.Flush()
		fmt.Fprintln(c.stderr)

		rep, err := eng.Rollup(ctx, engine.RollupOptions{})
		if err != nil {
			return err
		}
		if err := report.Write(c.stdout, rep, *format); err != nil {
			return err
		}
		if !*keep {
			fmt.Fprintf(c.stderr, "\nRun '%s demo --serve' to keep the simulators running and open the dashboard.\n", c.prog)
			return nil
		}
		a := &app{cfg: cfg, db: db, eng: eng, log: log}
		return c.serve(ctx, a, reg, c.stderr, nil)
	}
}

// newRegistry is the metrics registry of a serving process: the engine's
// metrics join the Go runtime's, the process's and pmsync_build_info.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	registerProcessMetrics(reg)
	return reg
}
