package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/web"
)

func cmdRun(ctx context.Context, stop *stopper, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs, path := flags("run", stderr, env)
	if err := parse(fs, args); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, err := setup(ctx, *path, env, stderr, setupOptions{daemon: true, engine: engine.Options{Metrics: engine.NewMetrics(reg)}})
	if err != nil {
		return err
	}
	defer a.Close()
	return serve(ctx, stop, a, reg, stdout)
}

// serve runs the dashboard and the scheduler until a signal arrives.
func serve(ctx context.Context, stop *stopper, a *app, reg *prometheus.Registry, stdout io.Writer) error {
	srv, err := web.New(a.eng, a.db, web.Options{
		Token: a.cfg.HTTPToken(), Gatherer: reg, Log: a.log, Version: buildVersion(),
		Ready: a.db.Ping, Sources: a.eng.Health,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.HTTP.Listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "dashboard on http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	a.log.Info().Str("listen", ln.Addr().String()).Msg("dashboard listening")

	runErr := a.eng.Run(ctx, stop.graceful)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard: %w", err)
	}
	return runErr
}
