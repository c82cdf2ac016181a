package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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
// three programs, rollup, push back into the tools, and the executive view.
func cmdDemo(ctx context.Context, stop *stopper, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	keep := fs.Bool("serve", false, "keep running: scheduler and dashboard on --listen until Ctrl-C")
	listen := fs.String("listen", "127.0.0.1:8080", "dashboard address with --serve")
	dbPath := fs.String("db", "", "database file (default: a temporary file removed on exit)")
	format := fs.String("format", "table", "rollup output format: table, json, csv, md")
	if err := parse(fs, args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || !httpapi.IsLoopback(host) {
		return fmt.Errorf("%w: --listen %q: the demo serves only on loopback (127.0.0.1, ::1, localhost)", errUsage, *listen)
	}
	if !validFormat(*format) {
		return fmt.Errorf("%w: --format %q is not one of table, json, csv, md", errUsage, *format)
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
	log := newLogger(cfg, stderr, !*keep)
	if !*keep {
		log = log.Level(zerolog.WarnLevel)
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	eng, err := engine.New(cfg, db, engine.Options{Log: log, Metrics: engine.NewMetrics(reg)})
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "pmsync demo: simulated Jira Cloud (%d issues), Asana (%d tasks) and Smartsheet (%d rows) on loopback\n\n",
		sandbox.JiraIssues, sandbox.AsanaTasks, sandbox.SmartsheetRows)
	results, err := eng.Sync(ctx, engine.SyncOptions{Stop: stop.graceful})
	printSync(stdout, results)
	if err != nil {
		return err
	}
	pushes, err := eng.Push(ctx, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PUSHED TO\tPROGRAM\tSTATUS\tRECEIPT")
	for _, p := range pushes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Target, p.Program, p.Status, p.Receipt)
	}
	_ = tw.Flush()
	fmt.Fprintln(stdout)

	rep, err := eng.Rollup(ctx, engine.RollupOptions{})
	if err != nil {
		return err
	}
	if err := report.Write(stdout, rep, *format); err != nil {
		return err
	}
	if !*keep {
		fmt.Fprintln(stdout, "\nRun `go run ./cmd/pmsync demo --serve` to keep the simulators running and open the dashboard.")
		return nil
	}
	a := &app{cfg: cfg, db: db, eng: eng, log: log}
	return serve(ctx, stop, a, reg, stdout)
}
