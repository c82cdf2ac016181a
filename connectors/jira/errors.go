package jira

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/pmsync/pmsync/connectors/httpapi"
)

// maxErrorText caps how much of a vendor's error text reaches an error
// string: enough to act on, not a wall of JQL.
const maxErrorText = 300

// ParseError reads a Jira error answer for the shared HTTP client: the JSON
// error collection {"errorMessages": [...], "errors": {"field": "message"}}
// or the plain-text body some 401s and proxies send. HTML pages carry no
// useful text and are dropped.
func ParseError(status int, h http.Header, body []byte) httpapi.ErrorInfo {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return httpapi.ErrorInfo{}
	}
	if body[0] == '{' {
		var e struct {
			ErrorMessages []string          `json:"errorMessages"`
			Errors        map[string]string `json:"errors"`
			Message       string            `json:"message"` // gateway errors
		}
		if err := json.Unmarshal(body, &e); err == nil {
			parts := make([]string, 0, len(e.ErrorMessages)+len(e.Errors)+1)
			for _, m := range e.ErrorMessages {
				if m = strings.TrimSpace(m); m != "" {
					parts = append(parts, m)
				}
			}
			keys := make([]string, 0, len(e.Errors))
			for k := range e.Errors {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				parts = append(parts, k+": "+strings.TrimSpace(e.Errors[k]))
			}
			if len(parts) == 0 && e.Message != "" {
				parts = append(parts, e.Message)
			}
			return httpapi.ErrorInfo{Message: httpapi.Shorten(strings.Join(parts, "; "), maxErrorText)}
		}
	}
	if body[0] == '<' || strings.Contains(strings.ToLower(h.Get("Content-Type")), "html") {
		return httpapi.ErrorInfo{}
	}
	line, _, _ := strings.Cut(string(body), "\n")
	return httpapi.ErrorInfo{Message: httpapi.Shorten(strings.TrimSpace(line), maxErrorText)}
}
