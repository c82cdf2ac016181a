package jirasim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"time"
)

// Fault makes matching requests fail or slow down. Faults are checked before
// authentication, in the order they were injected; each request consumes at
// most one.
type Fault struct {
	Method string // "" matches any method
	Path   string // exact URL path; "" matches any path
	// Status is the answer's status. Zero with Malformed false serves the
	// normal answer after Delay (a slow request).
	Status int
	// Body of the answer; empty gives Jira's JSON error shape with the
	// status text (429: "Rate limit exceeded").
	Body   string
	Header map[string]string // set on the answer, e.g. "Retry-After": "2"
	// Malformed serves 200 with the first half of the normal JSON body, as
	// a connection cut mid-response would leave it.
	Malformed bool
	// Delay waits before answering; a cancelled request stops waiting.
	Delay time.Duration
	// Times is how many matching requests the fault hits: 0 means 1, a
	// negative value means every one until ClearFaults.
	Times int
}

type pendingFault struct {
	Fault
	left int // < 0: unlimited
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.fmu.Lock()
	s.faults = append(s.faults, &pendingFault{Fault: f, left: left})
	s.fmu.Unlock()
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.fmu.Lock()
	s.faults = nil
	s.fmu.Unlock()
}

// takeFault consumes the first queued fault matching r.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != r.Method) || (f.Path != "" && f.Path != r.URL.Path) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// applyFault answers r with a queued fault. It reports false when the
// request must still be served normally (no fault, or a delay only).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, body []byte) bool {
	f, ok := s.takeFault(r)
	if !ok {
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	switch {
	case f.Malformed:
		rec := httptest.NewRecorder()
		s.serve(rec, r, body)
		full := rec.Body.Bytes()
		cut := full[:len(full)/2]
		if len(cut) < 2 {
			cut = []byte(`{"issues":[{"id":`)
		}
		w.Header().Set("Content-Type", jsonType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(cut)
		return true
	case f.Status != 0:
		b := []byte(f.Body)
		if f.Body == "" {
			msg := http.StatusText(f.Status)
			if f.Status == http.StatusTooManyRequests {
				msg = "Rate limit exceeded"
			}
			b = errorBody(msg)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", jsonType)
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write(b)
		return true
	}
	return false
}

// Call is one request the server received.
type Call struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
}

// Calls returns every request received so far, in the order they arrived.
func (s *Server) Calls() []Call {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls forgets the recorded requests.
func (s *Server) ResetCalls() {
	s.cmu.Lock()
	s.calls = nil
	s.cmu.Unlock()
}

func (s *Server) recordCall(r *http.Request, body []byte) {
	c := Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}
	s.cmu.Lock()
	s.calls = append(s.calls, c)
	s.cmu.Unlock()
}
