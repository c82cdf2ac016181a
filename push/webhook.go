package push

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/report"
)

// Webhook headers. The signature is HMAC-SHA256, keyed with the configured
// secret, over the timestamp, a dot and the body exactly as sent:
//
//	X-Pmsync-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// A receiver recomputes it, compares in constant time and refuses a
// timestamp too far from its clock (a replayed request).
const (
	HeaderTimestamp = "X-Pmsync-Timestamp"
	HeaderSignature = "X-Pmsync-Signature"
	// HeaderVersion carries the report version; a receiver that sees one
	// twice (a retry after a lost answer) can drop the second.
	HeaderVersion = "X-Pmsync-Report-Version"
)

// Sign returns the X-Pmsync-Signature value for body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	Name   string        // names the target: "webhook:<name>"
	URL    pmsync.Secret // empty in a configuration loaded without secrets: Render works, Send fails
	Format string        // slack | teams | json
	Secret pmsync.Secret // signs every request when set
	// Timeout bounds a request; 0 keeps 30 seconds.
	Timeout   time.Duration
	Transport http.RoundTripper // nil clones the default transport
	Now       func() time.Time
	Log       zerolog.Logger
}

// Webhook posts reports to a URL.
type Webhook struct {
	opts   WebhookOptions
	client *httpapi.Client // nil without a URL
	path   string          // the URL's path and query, sent relative to its host
}

// NewWebhook returns a webhook target. The URL is checked by the
// configuration; here it is only split into host and path.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	switch o.Format {
	case "slack", "teams", "json":
	default:
		return nil, fmt.Errorf("webhook %s: format %q is not one of slack, teams, json", o.Name, o.Format)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	w := &Webhook{opts: o}
	if o.URL == "" {
		return w, nil
	}
	u, err := url.Parse(o.URL.Reveal())
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webhook %s: the URL is not absolute", o.Name)
	}
	w.path = u.RequestURI()
	secrets := []string{o.URL.Reveal(), w.path}
	if o.Secret != "" {
		secrets = append(secrets, o.Secret.Reveal())
	}
	w.client, err = httpapi.New(httpapi.Config{
		Vendor: "webhook", BaseURL: u.Scheme + "://" + u.Host, Timeout: o.Timeout, Transport: o.Transport,
		// A POST is not retried: a lost answer could mean a message posted
		// twice. The outbox tries a failed delivery again on the next push.
		MaxRetries: -1, MaxBody: 1 << 20, Secrets: secrets, Now: o.Now, Log: o.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", o.Name, err)
	}
	return w, nil
}

// Key implements Target.
func (w *Webhook) Key() string { return "webhook:" + w.opts.Name }

// Render implements Target.
func (w *Webhook) Render(rep pmsync.Report) (Payload, error) {
	var body []byte
	var err error
	switch w.opts.Format {
	case "slack":
		body, err = marshal(slackMessage(rep))
	case "teams":
		body, err = marshal(teamsMessage(rep))
	default:
		var buf bytes.Buffer
		err = report.JSON(&buf, rep)
		body = buf.Bytes()
	}
	if err != nil {
		return Payload{}, fmt.Errorf("webhook %s: render %s message: %w", w.opts.Name, w.opts.Format, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderVersion, rep.Version)
	if w.opts.Secret != "" {
		h.Set(HeaderTimestamp, "(the time of sending, in Unix seconds)")
		h.Set(HeaderSignature, "sha256=(HMAC-SHA256 of the timestamp, a dot and the body)")
	}
	return Payload{Where: "POST to the webhook " + w.opts.Name, ContentType: "application/json", Header: h, Body: body}, nil
}

// Send implements Target.
func (w *Webhook) Send(ctx context.Context, rep pmsync.Report) (string, error) {
	if w.client == nil {
		return "", fmt.Errorf("webhook %s: no URL (the configuration was loaded without secrets)", w.opts.Name)
	}
	p, err := w.Render(rep)
	if err != nil {
		return "", err
	}
	h := http.Header{}
	h.Set("Content-Type", p.ContentType)
	h.Set(HeaderVersion, rep.Version)
	if w.opts.Secret != "" {
		ts := w.opts.Now().Unix()
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, Sign([]byte(w.opts.Secret.Reveal()), ts, p.Body))
	}
	resp, err := w.client.Do(ctx, httpapi.Request{Method: http.MethodPost, Path: w.path, Header: h, Body: p.Body})
	if err != nil {
		return "", fmt.Errorf("post report %s to webhook %s: %w", rep.Version, w.opts.Name, err)
	}
	return fmt.Sprintf("webhook %s: HTTP %d", w.opts.Name, resp.Status), nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
