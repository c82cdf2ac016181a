package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/push"
	"github.com/pmsync/pmsync/report"
	"github.com/pmsync/pmsync/store"
)

// pushingLease is held by the process delivering pushes, so that pushes
// are sent by one process at a time (the daemon, a replica, or pmsync push
// by hand). Holding it, a push still marked sending was left so by a
// process that died mid-delivery, and is taken over at once; the pusher's
// guard (its marker check at the target) makes sending it again safe.
const pushingLease = "push"

// ReportProgram is the program name under which a webhook or file target's
// deliveries are kept in the outbox: they carry whole reports, not one
// program's rollup.
const ReportProgram = "*"

// PushResult reports what happened to one rollup (or, for a webhook or
// file, one report) for one target.
type PushResult struct {
	Target   string
	Program  string // ReportProgram for a webhook or file target
	Version  string // the rollup's version, or the report's
	Status   string // delivered | existing | unchanged | in-progress | failed | dry-run | superseded
	Receipt  string
	Err      error
	Rollup   pmsync.Rollup
	Existing bool
	// Preview is what would be sent, on a dry run whose status is dry-run.
	Preview *Preview
}

// Preview is exactly what a push would deliver to a target.
type Preview struct {
	Where  string
	Header map[string][]string // request headers, for a webhook
	Body   string
}

// TargetKey names a push target stably: the connection and the key its
// connector gave the target ("tracker:issue=PMO-1"), "webhook:<name>" or
// "file:<path>".
func TargetKey(p config.Push) string { return p.Key() }

// newTargets builds the webhook and file targets of the configuration.
func newTargets(cfg *config.Config, opts Options) (map[string]push.Target, error) {
	out := map[string]push.Target{}
	var errs []error
	for _, p := range cfg.Push {
		var t push.Target
		var err error
		switch {
		case p.Webhook != nil:
			w := p.Webhook
			t, err = push.NewWebhook(push.WebhookOptions{Name: w.Name, URL: w.URL, Format: w.Format, Secret: w.Secret, Timeout: w.Timeout,
				Transport: opts.Transport, Now: opts.Now, Log: opts.Log.With().Str("target", p.Key()).Logger()})
		case p.File != nil:
			t, err = push.NewFile(p.File.Path, p.File.Format)
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[p.Key()] = t
	}
	return out, errors.Join(errs...)
}

// Push computes the rollups, saves their snapshots, queues one delivery per
// target, program and rollup version in the outbox (one per report version
// for a webhook or file), and delivers what is pending. A version is
// delivered at most once per target; a newer version supersedes an older
// one still pending. With dryRun nothing is written anywhere and the
// results say what would be sent, or that a target already has it.
func (e *Engine) Push(ctx context.Context, dryRun bool) ([]PushResult, error) {
	if e.readOnly && !dryRun {
		return nil, ErrReadOnly
	}
	e.pushMu.Lock()
	defer e.pushMu.Unlock()
	if !dryRun {
		taken := e.now()
		fence, got, err := e.acquire(ctx, pushingLease, taken)
		if err != nil {
			return nil, fmt.Errorf("take the push lease: %w", err)
		}
		if !got {
			return nil, fmt.Errorf("%w: another pmsync process is pushing", ErrBusy)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = e.db.ReleaseLease(rctx, pushingLease, e.holder)
		}()
		var lost context.CancelCauseFunc
		ctx, lost = context.WithCancelCause(ctx)
		defer lost(nil)
		go e.heartbeat(ctx, fence, taken, lost)
	}
	rep, err := e.Rollup(ctx, RollupOptions{Save: !dryRun})
	if err != nil {
		return nil, err
	}
	byID := map[string]pmsync.Rollup{}
	for _, r := range rep.Programs {
		// What is queued is what may be sent: redacted.
		if byID[r.ID], err = e.redactRollup(r); err != nil {
			return nil, err
		}
	}
	var results []PushResult
	var errs []error
	for _, p := range e.cfg.Push {
		key := p.Key()
		if t, ok := e.targets[key]; ok {
			res, err := e.pushReport(ctx, t, key, subReport(rep, byID, p.Programs), dryRun)
			results = append(results, res...)
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if dryRun {
			res, err := e.previewConnector(ctx, p, key, byID)
			results = append(results, res...)
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		for _, id := range p.Programs {
			r := byID[id]
			payload, err := json.Marshal(r)
			if err != nil {
				return results, fmt.Errorf("encode rollup %s: %w", id, err)
			}
			if _, err := e.db.Enqueue(ctx, key, id, r.Version, payload, e.now()); err != nil {
				return results, fmt.Errorf("queue push of %s to %s: %w", id, key, err)
			}
		}
		res, err := e.deliver(ctx, p, key)
		results = append(results, res...)
		if err != nil {
			errs = append(errs, err)
		}
		for _, id := range p.Programs {
			if !slices.ContainsFunc(res, func(r PushResult) bool { return r.Program == id && r.Version == byID[id].Version }) {
				results = append(results, PushResult{Target: key, Program: id, Version: byID[id].Version, Status: "unchanged", Rollup: byID[id]})
			}
		}
	}
	return results, errors.Join(errs...)
}

// subReport is the report of some of the programs, with their own totals,
// made of the rollups as they may be sent (redacted, byID).
func subReport(rep pmsync.Report, byID map[string]pmsync.Rollup, ids []string) pmsync.Report {
	var rs []pmsync.Rollup
	for _, r := range rep.Programs {
		if slices.Contains(ids, r.ID) {
			rs = append(rs, byID[r.ID])
		}
	}
	return pmsync.NewReport(rep.AsOf, rep.GeneratedAt, rs)
}

// redactReport applies the redaction rules to a queued report's programs,
// so that a report queued before a rule was added goes out redacted all
// the same. The version stays the queued one: it names the delivery.
func (e *Engine) redactReport(rep pmsync.Report) (pmsync.Report, error) {
	programs := make([]pmsync.Rollup, len(rep.Programs))
	for i, r := range rep.Programs {
		var err error
		if programs[i], err = e.redactRollup(r); err != nil {
			return rep, err
		}
	}
	out := pmsync.NewReport(rep.AsOf, rep.GeneratedAt, programs)
	out.Version = rep.Version
	return out, nil
}

// alreadySent reports whether the outbox holds this version for the
// target, delivered (the target is unchanged) or not.
func (e *Engine) alreadySent(ctx context.Context, key, program, version string) (store.Push, bool, error) {
	p, ok, err := e.db.LookupPush(ctx, key, program, version)
	if err != nil {
		return p, false, fmt.Errorf("read outbox of %s: %w", key, err)
	}
	return p, ok, nil
}

// previewConnector says what a dry run would push to a tool's target.
func (e *Engine) previewConnector(ctx context.Context, p config.Push, key string, byID map[string]pmsync.Rollup) ([]PushResult, error) {
	var results, send []PushResult
	var batch []pmsync.Rollup
	for _, id := range p.Programs {
		r := byID[id]
		res := PushResult{Target: key, Program: id, Version: r.Version, Rollup: r, Status: "dry-run"}
		sent, ok, err := e.alreadySent(ctx, key, id, r.Version)
		if err != nil {
			return results, err
		}
		if ok && sent.Status == store.PushDelivered {
			res.Status, res.Receipt = "unchanged", sent.Receipt
			results = append(results, res)
			continue
		}
		if ok {
			res.Receipt = "queued earlier, " + sent.Status
		}
		send = append(send, res)
		batch = append(batch, r)
	}
	// The kind's Preview needs no connection: a dry run shows what a
	// tool would be sent without its credentials.
	var preview func(connectors.Target, []pmsync.Rollup) ([]connectors.Preview, error)
	for _, c := range e.cfg.Connections {
		if c.Name == p.Connection {
			if spec, err := e.cfg.Registry().Lookup(c.Kind); err == nil {
				preview = spec.Preview
			}
		}
	}
	if preview == nil || len(batch) == 0 {
		for i := range send {
			send[i].Preview = &Preview{Where: fmt.Sprintf("connection %s (%s)", p.Connection, key),
				Body: fmt.Sprintf("rollup version %s of program %s (this connector shows no preview of what it writes)", send[i].Version, send[i].Program)}
		}
		return append(results, send...), nil
	}
	previews, err := preview(p.Target, batch)
	if err != nil {
		return append(results, send...), fmt.Errorf("preview push to %s: %w", key, err)
	}
	for i := range send {
		for _, x := range previews {
			if x.Program == send[i].Program {
				send[i].Preview = &Preview{Where: x.Where, Body: x.Text}
			}
		}
	}
	return append(results, send...), nil
}

// pushReport queues and delivers a report to a webhook or file target, or
// on a dry run shows what would be sent.
func (e *Engine) pushReport(ctx context.Context, t push.Target, key string, rep pmsync.Report, dryRun bool) ([]PushResult, error) {
	res := PushResult{Target: key, Program: ReportProgram, Version: rep.Version}
	if dryRun {
		sent, ok, err := e.alreadySent(ctx, key, ReportProgram, rep.Version)
		if err != nil {
			return nil, err
		}
		if ok && sent.Status == store.PushDelivered {
			res.Status, res.Receipt = "unchanged", sent.Receipt
			return []PushResult{res}, nil
		}
		p, err := t.Render(rep)
		if err != nil {
			return nil, err
		}
		res.Status = "dry-run"
		if ok {
			res.Receipt = "queued earlier, " + sent.Status
		}
		res.Preview = &Preview{Where: p.Where, Header: p.Header, Body: string(p.Body)}
		return []PushResult{res}, nil
	}
	var doc bytes.Buffer
	if err := report.JSON(&doc, rep); err != nil {
		return nil, err
	}
	if _, err := e.db.Enqueue(ctx, key, ReportProgram, rep.Version, doc.Bytes(), e.now()); err != nil {
		return nil, fmt.Errorf("queue report %s for %s: %w", rep.Version, key, err)
	}
	results, err := e.deliverReport(ctx, t, key)
	if !slices.ContainsFunc(results, func(r PushResult) bool { return r.Version == rep.Version }) {
		res.Status = "unchanged"
		results = append(results, res)
	}
	return results, err
}

// deliverReport sends the newest pending report of a webhook or file
// target; older pending ones are superseded.
func (e *Engine) deliverReport(ctx context.Context, t push.Target, key string) ([]PushResult, error) {
	pending, err := e.db.PendingPushes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read outbox of %s: %w", key, err)
	}
	if len(pending) == 0 {
		return nil, nil
	}
	rec := context.WithoutCancel(ctx)
	var results []PushResult
	for _, pp := range pending[:len(pending)-1] {
		ok, err := e.db.SupersedePush(rec, pp.ID, store.PushOutcome{At: e.now(), Receipt: "superseded by a newer report"}, 0)
		if err != nil {
			return results, err
		}
		if !ok {
			// Another process is sending it; the newer one waits for it.
			newest := pending[len(pending)-1]
			return append(results, PushResult{Target: key, Program: ReportProgram, Version: newest.Version, Status: "in-progress"}), nil
		}
		results = append(results, PushResult{Target: key, Program: ReportProgram, Version: pp.Version, Status: "superseded"})
	}
	pp := pending[len(pending)-1]
	res := PushResult{Target: key, Program: ReportProgram, Version: pp.Version}
	var rep pmsync.Report
	err = json.Unmarshal(pp.Payload, &rep)
	if err == nil {
		rep, err = e.redactReport(rep)
	}
	if err != nil {
		_ = e.db.MarkFailed(rec, pp.ID, store.PushOutcome{At: e.now(), Error: "stored report is unreadable: " + err.Error()})
		res.Status, res.Err = "failed", err
		return append(results, res), fmt.Errorf("push to %s: stored report %s is unreadable: %w", key, pp.Version, err)
	}
	// The audit keeps the hash of what the target receives, and the
	// document itself only when configured.
	payload, err := t.Render(rep)
	if err != nil {
		return results, err
	}
	sum := sha256.Sum256(payload.Body)
	sent := store.PushOutcome{PayloadHash: hex.EncodeToString(sum[:])}
	if e.cfg.Audit.KeepPayloads {
		sent.Payload = payload.Body
	}
	claimed, err := e.db.ClaimPush(ctx, pp.ID, e.now(), 0)
	if err != nil {
		return results, err
	}
	if !claimed {
		res.Status = "in-progress"
		return append(results, res), nil
	}
	receipt, sendErr := t.Send(ctx, rep)
	if sendErr != nil {
		res.Status, res.Err = "failed", sendErr
		o := sent
		o.At, o.Error = e.now(), sendErr.Error()
		if err := e.db.MarkFailed(rec, pp.ID, o); err != nil {
			sendErr = errors.Join(sendErr, fmt.Errorf("mark push %d failed: %w", pp.ID, err))
		}
		e.metrics.observePush(res)
		e.logPush(res)
		return append(results, res), fmt.Errorf("push to %s: %w", key, sendErr)
	}
	res.Status, res.Receipt = "delivered", receipt
	var markErr error
	o := sent
	o.Outcome, o.At, o.Receipt = store.DeliveryDelivered, e.now(), receipt
	if err := e.db.MarkDelivered(rec, pp.ID, o); err != nil {
		markErr = fmt.Errorf("mark push %d delivered: %w", pp.ID, err)
	}
	e.metrics.observePush(res)
	e.logPush(res)
	return append(results, res), markErr
}

// deliver sends what the outbox holds for one target of a connection.
func (e *Engine) deliver(ctx context.Context, p config.Push, key string) ([]PushResult, error) {
	pusher, ok := e.conns[p.Connection].(connectors.Pusher)
	if !ok {
		return nil, fmt.Errorf("push to %s: connection %s cannot receive rollups", key, p.Connection)
	}
	pending, err := e.db.PendingPushes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read outbox of %s: %w", key, err)
	}
	// Only the newest pending version of each program is worth sending.
	newest := map[string]int{}
	for i, pp := range pending {
		newest[pp.Program] = i
	}
	var results []PushResult
	var batch []pmsync.Rollup
	var ids []int64
	// Outcomes are recorded even when ctx ends (SIGTERM, a timeout), or
	// the rows would sit claimed until their lease ran out.
	rec := context.WithoutCancel(ctx)
	var errs []error
	waiting := map[string]bool{} // programs whose older version another process is sending
	for i, pp := range pending {
		if newest[pp.Program] != i {
			ok, err := e.db.SupersedePush(rec, pp.ID, store.PushOutcome{At: e.now(), Receipt: "superseded by a newer rollup"}, 0)
			if err != nil {
				return results, err
			}
			if !ok {
				waiting[pp.Program] = true
				continue
			}
			results = append(results, PushResult{Target: key, Program: pp.Program, Version: pp.Version, Status: "superseded"})
			continue
		}
		var r pmsync.Rollup
		err := json.Unmarshal(pp.Payload, &r)
		if err == nil {
			// A rollup queued before a redaction rule was added goes out
			// redacted all the same.
			r, err = e.redactRollup(r)
		}
		if err != nil {
			_ = e.db.MarkFailed(rec, pp.ID, store.PushOutcome{At: e.now(), Error: "stored rollup is unreadable: " + err.Error()})
			results = append(results, PushResult{Target: key, Program: pp.Program, Version: pp.Version, Status: "failed", Err: err})
			continue
		}
		if !slices.Contains(p.Programs, pp.Program) {
			continue // the config no longer sends this program here
		}
		claimed := false
		if !waiting[pp.Program] {
			var err error
			if claimed, err = e.db.ClaimPush(ctx, pp.ID, e.now(), 0); err != nil {
				return results, err
			}
		}
		if !claimed {
			// Sending it now could land before the older one in flight.
			results = append(results, PushResult{Target: key, Program: pp.Program, Version: pp.Version, Status: "in-progress", Rollup: r})
			continue
		}
		batch = append(batch, r)
		ids = append(ids, pp.ID)
	}
	// The audit keeps the hash of each document as handed to the
	// connector, and the document itself only when configured.
	sent := make([]store.PushOutcome, len(batch))
	for i, r := range batch {
		b, err := json.Marshal(r)
		if err != nil {
			return results, fmt.Errorf("encode rollup %s: %w", r.ID, err)
		}
		sum := sha256.Sum256(b)
		sent[i].PayloadHash = hex.EncodeToString(sum[:])
		if e.cfg.Audit.KeepPayloads {
			sent[i].Payload = b
		}
	}
	if len(batch) == 0 {
		return results, nil
	}
	receipts, pushErr := pusher.Push(ctx, p.Target, batch)
	got := map[string]connectors.Receipt{}
	for _, rc := range receipts {
		got[rc.Program] = rc
	}
	for i, r := range batch {
		res := PushResult{Target: key, Program: r.ID, Version: r.Version, Rollup: r}
		rc, ok := got[r.ID]
		switch {
		case ok:
			res.Status, res.Receipt, res.Existing = "delivered", rc.ID, rc.Existing
			if rc.Existing {
				res.Status = "existing"
			}
			if rc.URL != "" {
				res.Receipt = rc.URL
			}
			o := sent[i]
			o.Outcome, o.At, o.Receipt = store.DeliveryDelivered, e.now(), res.Receipt
			if rc.Existing {
				o.Outcome = store.DeliveryExisting
			}
			if err := e.db.MarkDelivered(rec, ids[i], o); err != nil {
				errs = append(errs, fmt.Errorf("mark push %d delivered: %w", ids[i], err))
			}
		default:
			res.Status = "failed"
			res.Err = pushErr
			if res.Err == nil {
				res.Err = errors.New("the connector returned no receipt")
			}
			o := sent[i]
			o.At, o.Error = e.now(), res.Err.Error()
			if err := e.db.MarkFailed(rec, ids[i], o); err != nil {
				errs = append(errs, fmt.Errorf("mark push %d failed: %w", ids[i], err))
			}
		}
		e.metrics.observePush(res)
		e.logPush(res)
		results = append(results, res)
	}
	if pushErr != nil {
		errs = append(errs, fmt.Errorf("push to %s: %w", key, pushErr))
	}
	return results, errors.Join(errs...)
}

// logPush writes one line per delivery attempt at info: pushes are rare
// (once per rollup version and target) and each one changes a tool people
// read.
func (e *Engine) logPush(r PushResult) {
	ev := e.log.Info()
	if r.Err != nil {
		ev = e.log.Warn().Str("err", r.Err.Error())
	}
	ev.Str("target", r.Target).Str("program", r.Program).Str("version", r.Version).Str("outcome", r.Status).
		Str("receipt", r.Receipt).Msg("push")
}
