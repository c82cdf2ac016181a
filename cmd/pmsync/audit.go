package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/store"
)

// auditOutcomes are the values --outcome takes.
var auditOutcomes = []string{store.DeliveryDelivered, store.DeliveryExisting, store.DeliveryFailed, store.DeliverySuperseded}

// cmdAudit lists the push audit: every outcome of every delivery, newest
// first, from the database alone (no vendor credentials).
func (c *cli) cmdAudit(fs *flag.FlagSet) func(context.Context, []string) error {
	o := c.commonFlags(fs)
	var f store.DeliveryFilter
	fs.StringVar(&f.Target, "target", "", "only deliveries to this `TARGET` as listed (connection:key, e.g. jira:issue=PMO-1)")
	connection := fs.String("connection", "", "only deliveries to targets of this connection `NAME`")
	fs.StringVar(&f.Program, "program", "", "only deliveries of this program `ID`")
	fs.StringVar(&f.Version, "version", "", "only deliveries of this rollup `VERSION`")
	fs.StringVar(&f.Outcome, "outcome", "", "only this `OUTCOME`: "+strings.Join(auditOutcomes, ", "))
	since := fs.String("since", "", "only deliveries at or after `WHEN`: a date (YYYY-MM-DD, in the configured time zone), an RFC 3339 time, or an age such as 36h or 7d")
	until := fs.String("until", "", "only deliveries before `WHEN` (same forms as --since)")
	fs.IntVar(&f.Limit, "limit", 100, "list at most `N` entries, the newest (0: all)")
	format := fs.String("format", "table", "output `FORMAT`: table or json (json holds full hashes and kept payloads)")
	return func(ctx context.Context, _ []string) error {
		if *format != "table" && *format != "json" {
			return fmt.Errorf("%w: --format %q is not one of table, json", errUsage, *format)
		}
		if f.Outcome != "" && !slices.Contains(auditOutcomes, f.Outcome) {
			return fmt.Errorf("%w: --outcome %q is not one of %s", errUsage, f.Outcome, strings.Join(auditOutcomes, ", "))
		}
		if f.Limit < 0 {
			return fmt.Errorf("%w: --limit %d is negative", errUsage, f.Limit)
		}
		cfg, err := c.load(o, config.WithoutSecrets())
		if err != nil {
			return err
		}
		now := time.Now()
		for _, w := range []struct {
			flag, text string
			dst        *time.Time
		}{{"since", *since, &f.Since}, {"until", *until, &f.Until}} {
			if w.text == "" {
				continue
			}
			t, err := parseWhen(w.text, now, cfg.Location())
			if err != nil {
				return fmt.Errorf("%w: --%s %q: %v", errUsage, w.flag, w.text, err)
			}
			*w.dst = t
		}
		db, err := openReadStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		limit := f.Limit
		if *connection != "" {
			f.Limit = 0 // the connection is matched below, after the query
		}
		entries, err := db.Deliveries(ctx, f)
		if err != nil {
			return err
		}
		if *connection != "" {
			entries = slices.DeleteFunc(entries, func(d store.Delivery) bool { return !strings.HasPrefix(d.Target, *connection+":") })
			if limit > 0 && len(entries) > limit {
				entries = entries[:limit]
			}
		}
		if *format == "json" {
			return writeAuditJSON(c.stdout, entries)
		}
		return writeAuditTable(c.stdout, entries, limit)
	}
}

// parseWhen reads a --since or --until value: a date in loc, an RFC 3339
// time, or an age before now (a Go duration, or whole days as 7d).
func parseWhen(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("not a date (YYYY-MM-DD), an RFC 3339 time or an age such as 36h or 7d")
}

func writeAuditTable(w io.Writer, entries []store.Delivery, limit int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT (UTC)\tTARGET\tPROGRAM\tVERSION\tOUTCOME\tATTEMPT\tSHA-256\tRECEIPT OR ERROR")
	for _, d := range entries {
		detail := d.Receipt
		if d.Error != "" {
			detail = d.Error
		}
		hash := d.PayloadHash
		if len(hash) > 16 {
			hash = hash[:16] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.At.UTC().Format(time.DateTime), d.Target, d.Program, d.Version,
			d.Outcome, d.Attempt, hash, oneLine(detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	more := ""
	if limit > 0 && len(entries) == limit {
		more = fmt.Sprintf(" (the newest %d; --limit 0 lists all)", limit)
	}
	_, err := fmt.Fprintf(w, "%d delivery outcome(s)%s; --format json shows full hashes and kept payloads\n", len(entries), more)
	return err
}

// auditEntry is one audit entry in JSON.
type auditEntry struct {
	At          time.Time       `json:"at"`
	Target      string          `json:"target"`
	Program     string          `json:"program"`
	Version     string          `json:"version"`
	Outcome     string          `json:"outcome"`
	Attempt     int             `json:"attempt"`
	PayloadHash string          `json:"payload_sha256"`
	Receipt     string          `json:"receipt,omitempty"`
	Error       string          `json:"error,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

func writeAuditJSON(w io.Writer, entries []store.Delivery) error {
	out := struct {
		Schema  string       `json:"schema"`
		Entries []auditEntry `json:"deliveries"`
	}{Schema: "pmsync.audit/v1", Entries: []auditEntry{}}
	for _, d := range entries {
		e := auditEntry{At: d.At.UTC(), Target: d.Target, Program: d.Program, Version: d.Version, Outcome: d.Outcome,
			Attempt: d.Attempt, PayloadHash: d.PayloadHash, Receipt: d.Receipt, Error: d.Error}
		if len(d.Payload) > 0 && json.Valid(d.Payload) {
			e.Payload = d.Payload
		}
		out.Entries = append(out.Entries, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
