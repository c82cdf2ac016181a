package smartsheet

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/pmsync/pmsync/connectors/httpapi"
)

// maxErrorText caps how much of a vendor's error text reaches an error
// string.
const maxErrorText = 300

// codeRateLimited is Smartsheet's errorCode for "Rate limit exceeded."
const codeRateLimited = 4003

// codeBusy is Smartsheet's errorCode (HTTP 500) for "Request failed because
// sheetId … is currently being updated by another request that uses the
// same access token. Please retry your request once the previous request
// has completed." — and for "An unexpected error has occurred. Please retry
// your request." Both ask for the request again, so a write refused with it
// is sent again even when it is not idempotent (adding rows).
const codeBusy = 4004

// errorBody is Smartsheet's error object.
type errorBody struct {
	ErrorCode json.Number `json:"errorCode"`
	Message   string      `json:"message"`
	RefID     string      `json:"refId"`
}

// ParseError reads a Smartsheet error answer for the shared HTTP client:
// {"errorCode": 1002, "message": "...", "refId": "..."}. errorCode 4003 (or
// a bare 429) asks for the minute's wait Smartsheet recommends; 4004 marks
// the request as refused without effect, to be sent again. HTML pages from
// proxies carry no useful text and are dropped.
func ParseError(status int, h http.Header, body []byte) httpapi.ErrorInfo {
	var info httpapi.ErrorInfo
	if status == http.StatusTooManyRequests {
		info.RetryAfter = RateLimitWait
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return info
	}
	if body[0] == '{' {
		var e errorBody
		if err := json.Unmarshal(body, &e); err == nil {
			info.Code = e.ErrorCode.String()
			info.Message = httpapi.Shorten(strings.TrimSpace(e.Message), maxErrorText)
			info.RefID = e.RefID
			switch code, _ := e.ErrorCode.Int64(); code {
			case codeRateLimited:
				info.RetryAfter = RateLimitWait
			case codeBusy:
				info.NotApplied = true
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

// describe renders the error of one failed item of a bulk write: the
// message, then the code and refId support asks for.
func (e errorBody) describe() string {
	var b strings.Builder
	b.WriteString(httpapi.Shorten(strings.TrimSpace(e.Message), maxErrorText))
	if e.ErrorCode != "" {
		b.WriteString(" (code " + e.ErrorCode.String())
		if e.RefID != "" {
			b.WriteString(", refId " + e.RefID)
		}
		b.WriteString(")")
	} else if e.RefID != "" {
		b.WriteString(" (refId " + e.RefID + ")")
	}
	return b.String()
}

// quoteList renders titles for an error message: "A", "B".
func quoteList(titles []string) string {
	q := make([]string, len(titles))
	for i, t := range titles {
		q[i] = strconv.Quote(t)
	}
	return strings.Join(q, ", ")
}
