package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/web"
)

func (c *cli) cmdRun(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	return func(ctx context.Context, _ []string) error {
		cfg, err := c.load(o, config.CheckDatabase())
		if err != nil {
			return err
		}
		reg := newRegistry()
		// Replicas on one database each serve /metrics: the engine's series
		// carry the replica (its host name) so that a scraper can tell them
		// apart and sum them.
		metrics := engine.NewMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"replica": replicaName()}, reg))
		a, err := c.open(ctx, cfg, setupOptions{daemon: true, engine: engine.Options{Metrics: metrics}})
		if err != nil {
			return err
		}
		defer a.Close()
		// A reload reads and checks the whole file again and builds every
		// connector before anything is replaced; the database and the
		// listen address stay those of the start.
		reload := func(cur *app) (*app, error) {
			next, err := c.load(o, config.CheckDatabase())
			if err != nil {
				return nil, err
			}
			log := newLogger(next, c.stderr, false)
			if next.Database != cur.cfg.Database {
				log.Warn().Str("database", next.Database).Msg("a new database takes effect at the next restart")
			}
			if next.HTTP.Listen != cur.cfg.HTTP.Listen {
				log.Warn().Str("listen", next.HTTP.Listen).Msg("a new listen address takes effect at the next restart")
			}
			eng, err := engine.New(next, cur.db, engine.Options{Log: log, Metrics: metrics})
			if err != nil {
				return nil, err
			}
			return &app{cfg: next, db: cur.db, eng: eng, log: log}, nil
		}
		return c.serve(ctx, a, reg, c.stdout, reload)
	}
}

// replicaName names this replica in metrics: the host name (a container's
// own, under Docker or Kubernetes).
func replicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "unknown"
	}
	return host
}

// registerProcessMetrics adds the Go runtime's and the process's
// collectors and pmsync_build_info to reg.
func registerProcessMetrics(reg *prometheus.Registry) {
	b := readBuildInfo()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pmsync_build_info", Help: "The running pmsync: version, VCS commit and Go version (always 1).",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(b.Version, b.Commit, b.Go).Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), info)
}

// swapHandler serves with the handler of the configuration in force.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}
func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

// serve runs the dashboard and the scheduler until a signal stops them.
// On SIGHUP it asks reload (when not nil) for the configuration anew: if
// that fails the running one stays and the error is logged; if it works,
// the scheduler stops as for SIGTERM (the sync in progress finishes its
// page) and starts again with the new configuration, and the dashboard
// serves it.
func (c *cli) serve(ctx context.Context, a *app, reg *prometheus.Registry, out io.Writer, reload func(*app) (*app, error)) error {
	if out == nil {
		out = c.stderr
	}
	handler := func(a *app) (http.Handler, error) {
		return web.New(a.eng, a.db, web.Options{
			Token: a.cfg.HTTPToken(), Gatherer: reg, Log: a.log, Version: buildVersion(), Ready: a.db.Ping,
			Sources: a.eng.Health,
			Refresh: a.cfg.HTTP.Refresh,
		})
	}
	h, err := handler(a)
	if err != nil {
		return err
	}
	var sh swapHandler
	sh.set(h)
	ln, scheme, err := listenDashboard(a.cfg, a.log)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: &sh, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(out, "dashboard on %s://%s/ (Ctrl-C to stop)\n", scheme, ln.Addr())
	a.log.Info().Str("listen", ln.Addr().String()).Msg("dashboard listening")

	type generation struct {
		stop chan struct{}
		done chan error
	}
	start := func(a *app) generation {
		g := generation{stop: make(chan struct{}), done: make(chan error, 1)}
		go func() { g.done <- a.eng.Run(ctx, g.stop) }()
		return g
	}
	g := start(a)
	var runErr error
loop:
	for {
		select {
		case <-c.stop.hup:
			if reload == nil {
				continue
			}
			next, err := reload(a)
			if err == nil {
				h, err = handler(next)
			}
			if err != nil {
				a.log.Error().Str("err", err.Error()).Msg("configuration reload failed; the running configuration stays")
				continue
			}
			close(g.stop)
			if err := <-g.done; err != nil {
				a.log.Warn().Str("err", err.Error()).Msg("scheduler of the replaced configuration")
			}
			sh.set(h)
			a = next
			g = start(a)
			a.log.Info().Str("config", a.cfg.File).Msg("configuration reloaded")
		case <-c.stop.graceful:
			close(g.stop)
			runErr = <-g.done
			break loop
		case runErr = <-g.done:
			break loop
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard: %w", err)
	}
	return runErr
}
