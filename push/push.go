// Package push delivers whole rollup reports to places that are not
// project tools: a webhook (a Slack or Microsoft Teams channel, or any
// service taking the JSON document, signed with HMAC-SHA256) and a file.
// The engine sends each report version to each target once, through the
// outbox, as it does for the tools' own targets.
package push

import (
	"context"
	"net/http"

	"github.com/pmsync/pmsync"
)

// Target receives whole reports.
type Target interface {
	// Key names the target stably in the outbox: "webhook:<name>" or
	// "file:<path>".
	Key() string
	// Render returns exactly what Send would deliver for rep, for dry runs.
	Render(rep pmsync.Report) (Payload, error)
	// Send delivers rep and says where it went.
	Send(ctx context.Context, rep pmsync.Report) (receipt string, err error)
}

// Payload is what a target delivers: a body, and for a webhook the request
// headers (a signature, which depends on the time of sending, is shown as
// how it is computed).
type Payload struct {
	// Where says where it goes, without any secret: "POST to the webhook in
	// SLACK_WEBHOOK_URL", "write /var/lib/pmsync/rollup.md".
	Where       string
	ContentType string
	Header      http.Header
	Body        []byte
}

// WebhookFormats lists what a webhook can send: a Slack message, a
// Microsoft Teams message (an Adaptive Card), or the JSON document.
func WebhookFormats() []string { return []string{"slack", "teams", "json"} }

// FileFormats lists what a file target can hold: the report formats.
func FileFormats() []string { return []string{"json", "csv", "md"} }
