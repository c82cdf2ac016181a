package trello

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Trello's rate-limit error codes, the "error" of a 429 body: which budget
// ran out.
const (
	CodeTokenLimit = "API_TOKEN_LIMIT_EXCEEDED"
	CodeKeyLimit   = "API_KEY_LIMIT_EXCEEDED"
)

// maxErrorText caps how much of Trello's error text reaches an error.
const maxErrorText = 300

// errorBody is Trello's JSON error: {"error": "API_TOKEN_LIMIT_EXCEEDED",
// "message": "Rate limit exceeded"} on a 429, {"code", "message"} in its
// API description.
type errorBody struct {
	Error   any    `json:"error"`
	Code    any    `json:"code"`
	Message string `json:"message"`
}

// ParseError reads a Trello error answer for the shared HTTP client. Most
// Trello errors are one line of plain text ("invalid token", "invalid id",
// "The requested resource was not found."); rate-limit answers are JSON
// whose "error" names the budget that ran out. Trello sends no Retry-After,
// so a 429 asks for the rest of the 10-second window its budgets count
// over. HTML pages from proxies carry nothing useful and are dropped.
func ParseError(status int, h http.Header, body []byte) httpapi.ErrorInfo {
	var info httpapi.ErrorInfo
	if status == http.StatusTooManyRequests {
		info.RetryAfter = RateWindow
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return info
	}
	if body[0] == '{' {
		var e errorBody
		if err := json.Unmarshal(body, &e); err == nil {
			info.Code = text(e.Error)
			if info.Code == "" {
				info.Code = text(e.Code)
			}
			info.Message = httpapi.Shorten(strings.TrimSpace(e.Message), maxErrorText)
			if info.Message == "" && info.Code != "" && !isCode(info.Code) {
				// {"error": "a sentence"}: the text is the message.
				info.Message, info.Code = info.Code, ""
			}
			return info
		}
	}
	if body[0] == '<' || strings.Contains(strings.ToLower(h.Get("Content-Type")), "html") {
		return info
	}
	line, _, _ := strings.Cut(string(body), "\n")
	info.Message = httpapi.Shorten(strings.TrimSpace(line), maxErrorText)
	return info
}

// text renders a JSON string or number; anything else is empty.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}

// isCode reports whether s looks like an error code (API_TOKEN_LIMIT_EXCEEDED,
// ERROR) rather than a sentence.
func isCode(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}
