package jira

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// The connector talks to Jira through go-jira's client for the calls
// go-jira models (GET field, GET myself, GET issue, POST comment), and
// through go-jira's NewRequestWithContext/Do for the ones it does not:
// search/jql and Data Center's search (go-jira v1.17 only knows the search
// Cloud removed, and pages neither), GET comments newest first (its
// comment list takes no orderBy) and GET serverInfo (no service for it).
// Every request, either way, goes through the shared httpapi client as
// go-jira's transport, so the rate limiter, retries, size cap, secret
// scrubbing and Jira's error parsing apply to all of them.

// newGoJira builds a go-jira client whose transport is api.
func newGoJira(api *httpapi.Client, base string) (*gojira.Client, error) {
	jc, err := gojira.NewClient(&http.Client{Transport: apiTransport{api: api}}, base)
	if err != nil {
		return nil, fmt.Errorf("build go-jira client: %w", err)
	}
	return jc, nil
}

// apiTransport is an http.RoundTripper that sends go-jira's requests with
// the shared client.
type apiTransport struct {
	api *httpapi.Client
}

type readKey struct{}

// asRead marks the requests made with ctx as reads whatever their method
// (search POSTs), so the shared client may retry them.
func asRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, readKey{}, true)
}

// RoundTrip sends req with the shared client. A status other than 2xx
// comes back as the client's *connectors.APIError, scrubbed and parsed.
func (t apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	read, _ := req.Context().Value(readKey{}).(bool)
	h := http.Header{}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	resp, err := t.api.Do(req.Context(), httpapi.Request{
		Method:     req.Method,
		Path:       req.URL.String(),
		Header:     h,
		Body:       body,
		Idempotent: read,
	})
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        resp.Header,
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}, nil
}

// callErr strips what go-jira and net/http wrap around the shared client's
// error: the *connectors.APIError (status, Jira's messages) or the
// transport error already says what failed and where.
func callErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *connectors.APIError
	if errors.As(err, &ae) {
		return ae
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// doRaw sends a request built with go-jira and returns the answer's
// headers and body, for a caller that decodes the body itself.
func (c *Connector) doRaw(ctx context.Context, method, path string, body any) (http.Header, []byte, error) {
	req, err := c.jc.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	resp, err := c.jc.Do(req, nil)
	if err != nil {
		return nil, nil, callErr(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer to %s %s: %w", method, req.URL.Path, err)
	}
	return resp.Header, data, nil
}

// do sends a request built with go-jira and decodes its JSON answer into
// out; it returns the answer's headers.
func (c *Connector) do(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	req, err := c.jc.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	resp, err := c.jc.Do(req, out)
	var ae *connectors.APIError
	var ue *url.Error
	switch {
	case err == nil:
		return resp.Header, nil
	case errors.As(err, &ae) || errors.As(err, &ue):
		return nil, callErr(err)
	}
	// The transport answered 2xx: the body was not the JSON expected.
	return nil, fmt.Errorf("decode the answer to %s %s: %w", method, req.URL.Path, err)
}
