package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// redacted replaces every secret in error text.
const redacted = "<secret>"

// minSecretLen is the shortest value scrubbed: replacing two- or three-letter
// strings would mangle ordinary words while protecting nothing.
const minSecretLen = 4

// snippetLen bounds how much of a response body may reach an error message.
const snippetLen = 200

// maxMessageLen bounds a vendor parser's message, so that a parser returning
// a whole body still gives a one-line error.
const maxMessageLen = 1000

// scrubber removes secrets from text before it becomes part of an error.
type scrubber struct {
	// values holds every spelling of every secret, longest first so that a
	// secret containing another is replaced whole.
	values []string
	// params matches query parameters that carry credentials by convention,
	// whatever their value, in URLs that vendors echo back.
	params *regexp.Regexp
}

func newScrubber(secrets []string) *scrubber {
	var values []string
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		js, _ := json.Marshal(s)
		values = append(values, s, url.QueryEscape(s), url.PathEscape(s), string(js[1:len(js)-1]))
	}
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) })
	values = slices.Compact(values)
	return &scrubber{
		values: values,
		params: regexp.MustCompile(`(?i)(^|[^a-z0-9_])(key|token|access_token|api_key|apikey)=([^&\s"'#]+)`),
	}
}

// text returns t with every secret and credential query parameter replaced.
func (s *scrubber) text(t string) string {
	for _, v := range s.values {
		t = strings.ReplaceAll(t, v, redacted)
	}
	return s.params.ReplaceAllString(t, "${1}${2}="+redacted)
}

// Shorten collapses whitespace and cuts t to at most n bytes on a rune
// boundary. Callers scrub before cutting, so no secret is cut in half and
// left partly readable.
func Shorten(t string, n int) string {
	t = strings.Join(strings.Fields(t), " ")
	if len(t) <= n {
		return t
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(t[cut]) {
		cut--
	}
	return t[:cut] + "…"
}

// ParseGenericError reads the error shapes the supported vendors share: a
// JSON "message" (Smartsheet), "errorMessages" and "errors" by field (Jira),
// "errors" as a list of objects with "message" (Asana), "error" as a string
// or an object, "errorCode"/"code" and "refId". A body that is not JSON gives
// its first 200 bytes as the message. It is the default Config.ParseError;
// vendor parsers may call it for shapes they do not know.
func ParseGenericError(status int, header http.Header, body []byte) ErrorInfo {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return ErrorInfo{Message: Shorten(string(body), snippetLen)}
	}
	info := ErrorInfo{
		Code:    scalar(doc["errorCode"]),
		RefID:   scalar(doc["refId"]),
		Message: Shorten(strings.Join(messages(doc), "; "), snippetLen),
	}
	if info.Code == "" {
		info.Code = scalar(doc["code"])
	}
	return info
}

// messages collects the human-readable parts of a JSON error document.
func messages(doc map[string]any) []string {
	var out []string
	if m, ok := doc["message"].(string); ok && m != "" {
		out = append(out, m)
	}
	if list, ok := doc["errorMessages"].([]any); ok {
		for _, m := range list {
			if s, ok := m.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	switch errs := doc["errors"].(type) {
	case map[string]any:
		keys := make([]string, 0, len(errs))
		for k := range errs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if s, ok := errs[k].(string); ok {
				out = append(out, k+": "+s)
			}
		}
	case []any:
		for _, e := range errs {
			if obj, ok := e.(map[string]any); ok {
				if s, ok := obj["message"].(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	switch e := doc["error"].(type) {
	case string:
		out = append(out, e)
	case map[string]any:
		if s, ok := e["message"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// scalar renders a JSON string or number as text; anything else is empty.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}
