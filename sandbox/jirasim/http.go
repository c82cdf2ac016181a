package jirasim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	jsonType = "application/json;charset=UTF-8"
	// maxRequestBody bounds what the server reads of a request body.
	maxRequestBody = 10 << 20

	// cloudUnauthorized is Jira Cloud's plain-text answer to a bad API token.
	cloudUnauthorized = "Client must be authenticated to access this resource."
	// dcUnauthorized is Jira Data Center's answer to a bad or missing token.
	dcUnauthorized = "You are not authenticated. Authentication required to perform this operation."
	// removedSearch is Jira Cloud's answer on the search API it removed in 2025.
	removedSearch = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. " +
		"A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
	// invalidPayload is Jira Cloud's answer to a request body it cannot read.
	invalidPayload = "Invalid request payload. Refer to the REST API documentation and try again."
	issueNotFound  = "Issue does not exist or you do not have permission to see it."
)

// ServeHTTP answers one request. Every request is recorded (see Calls) once
// it has been answered.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Recorded on arrival, so that a client that has its answer always finds
	// its request in Calls.
	s.recordCall(r, body)
	// Jira stamps every answer with its own clock; a client that needs the
	// server's time (where a walk began) reads it here, so it must follow
	// the simulated clock rather than the host's.
	w.Header().Set("Date", s.opts.Now().UTC().Format(http.TimeFormat))
	if s.applyFault(w, r, body) {
		return
	}
	if s.opts.Flavor == Cloud && s.opts.CloudID != "" {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/ex/jira/"+s.opts.CloudID+"/"); ok {
			r = r.Clone(r.Context())
			r.URL.Path, r.URL.RawPath = "/"+rest, ""
		} else if s.opts.ScopedToken {
			// A scoped token is good only through the gateway.
			w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, cloudUnauthorized)
			return
		}
	}
	s.serve(w, r, body)
}

// serve routes an authenticated request to its handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if !s.authorized(r) {
		if s.opts.Flavor == Cloud {
			w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, cloudUnauthorized)
			return
		}
		writeJSON(w, http.StatusUnauthorized, errorBody(dcUnauthorized))
		return
	}
	api, rest, ok := splitAPIPath(r.URL.Path)
	cloud := s.opts.Flavor == Cloud
	base := s.baseURL(r)
	if !ok || (!cloud && api == "3") {
		s.notFound(w, r, base)
		return
	}
	if r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/json" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			return
		}
	}
	switch {
	case rest == "myself":
		s.only(w, r, http.MethodGet, func() { s.myself(w, base, api) })
	case rest == "field":
		s.only(w, r, http.MethodGet, func() { s.fieldList(w) })
	case rest == "serverInfo":
		s.only(w, r, http.MethodGet, func() { s.serverInfo(w, base) })
	case rest == "search/jql" && cloud:
		s.only(w, r, "GET,POST", func() { s.searchJQL(w, r, base, api, body) })
	case rest == "search" && cloud:
		s.only(w, r, "GET,POST", func() { writeJSON(w, http.StatusGone, errorBody(removedSearch)) })
	case rest == "search":
		s.only(w, r, "GET,POST", func() { s.searchDC(w, r, base, body) })
	case strings.HasPrefix(rest, "issue/"):
		parts := strings.Split(strings.TrimPrefix(rest, "issue/"), "/")
		switch {
		case len(parts) == 1 && parts[0] != "":
			s.only(w, r, http.MethodGet, func() { s.getIssue(w, r, base, api, parts[0]) })
		case len(parts) == 2 && parts[0] != "" && parts[1] == "comment":
			s.only(w, r, "GET,POST", func() {
				if r.Method == http.MethodGet {
					s.listComments(w, r, base, api, parts[0])
				} else {
					s.addComment(w, base, api, parts[0], body)
				}
			})
		default:
			s.notFound(w, r, base)
		}
	default:
		s.notFound(w, r, base)
	}
}

// splitAPIPath splits /rest/api/{2,3,latest}/rest; latest is version 2.
func splitAPIPath(p string) (api, rest string, ok bool) {
	rest, ok = strings.CutPrefix(p, "/rest/api/")
	if !ok {
		return "", "", false
	}
	api, rest, ok = strings.Cut(rest, "/")
	switch api {
	case "2", "3":
	case "latest":
		api = "2"
	default:
		return "", "", false
	}
	return api, strings.TrimSuffix(rest, "/"), ok && rest != ""
}

// only runs h when the method is one of methods (comma-separated).
func (s *Server) only(w http.ResponseWriter, r *http.Request, methods string, h func()) {
	for _, m := range strings.Split(methods, ",") {
		if r.Method == m {
			h()
			return
		}
	}
	w.Header().Set("Allow", strings.ReplaceAll(methods, ",", ", "))
	w.WriteHeader(http.StatusMethodNotAllowed)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, base string) {
	// Jira's REST layer answers unknown resources in this shape.
	b := []byte(`{"message":`)
	b = appendString(b, "null for uri: "+base+r.URL.RequestURI())
	b = append(b, `,"status-code":404}`...)
	writeJSON(w, http.StatusNotFound, b)
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	if s.opts.Flavor == DataCenter {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1
	}
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	want := s.opts.Email + ":" + s.opts.Token
	return subtle.ConstantTimeCompare(raw, []byte(want)) == 1
}

// baseURL is the prefix of self links.
func (s *Server) baseURL(r *http.Request) string {
	s.mu.RLock()
	b := s.base
	s.mu.RUnlock()
	if b == "" {
		b = "http://" + r.Host
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errorBody is Jira's ErrorCollection with the given messages.
func errorBody(msgs ...string) []byte {
	b := []byte(`{"errorMessages":[`)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m)
	}
	return append(b, `],"errors":{}}`...)
}

// fieldErrorBody is an ErrorCollection with one field error.
func fieldErrorBody(field, msg string) []byte {
	b := []byte(`{"errorMessages":[],"errors":{`)
	b = appendString(b, field)
	b = append(b, ':')
	b = appendString(b, msg)
	return append(b, `}}`...)
}

// The user the credentials belong to.
const (
	selfName        = "PMO Integration"
	selfDCName      = "pmo.integration"
	selfDefaultMail = "pmo.integration@example.org"
)

func (s *Server) myself(w http.ResponseWriter, base, api string) {
	email := s.opts.Email
	if email == "" {
		email = selfDefaultMail
	}
	var b []byte
	if s.opts.Flavor == Cloud {
		id := accountID(selfName)
		b = append(b, `{"self":`...)
		b = appendString(b, base+"/rest/api/"+api+"/user?accountId="+id)
		b = append(b, `,"accountId":`...)
		b = appendString(b, id)
		b = append(b, `,"accountType":"atlassian","emailAddress":`...)
	} else {
		b = append(b, `{"self":`...)
		b = appendString(b, base+"/rest/api/2/user?username="+selfDCName)
		b = append(b, `,"key":"JIRAUSER10000","name":`...)
		b = appendString(b, selfDCName)
		b = append(b, `,"emailAddress":`...)
	}
	b = appendString(b, email)
	b = append(b, `,"displayName":`...)
	b = appendString(b, selfName)
	b = append(b, `,"active":true,"timeZone":`...)
	b = appendString(b, s.zone.Load().name)
	b = append(b, `,"locale":"en_US","groups":{"size":1,"items":[]},"applicationRoles":{"size":1,"items":[]},"expand":"groups,applicationRoles"}`...)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) fieldList(w http.ResponseWriter) {
	cloud := s.opts.Flavor == Cloud
	b := []byte{'['}
	for i, d := range s.cat.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, d.ID)
		if cloud {
			b = append(b, `,"key":`...)
			b = appendString(b, d.ID)
		}
		b = append(b, `,"name":`...)
		b = appendString(b, d.Name)
		if cloud && d.Custom {
			b = append(b, `,"untranslatedName":`...)
			b = appendString(b, d.Name)
		}
		b = append(b, `,"custom":`...)
		b = strconv.AppendBool(b, d.Custom)
		b = append(b, `,"orderable":`...)
		b = strconv.AppendBool(b, d.Orderable)
		b = append(b, `,"navigable":`...)
		b = strconv.AppendBool(b, d.Navigable)
		b = append(b, `,"searchable":`...)
		b = strconv.AppendBool(b, d.Searchable)
		b = append(b, `,"clauseNames":[`...)
		for j, c := range d.Clauses {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		b = append(b, ']')
		if d.Schema != nil {
			b = append(b, `,"schema":`...)
			b = appendSchema(b, d.Schema)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	writeJSON(w, http.StatusOK, b)
}

func appendSchema(b []byte, sc *schema) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, sc.Type)
	if sc.Items != "" {
		b = append(b, `,"items":`...)
		b = appendString(b, sc.Items)
	}
	if sc.System != "" {
		b = append(b, `,"system":`...)
		b = appendString(b, sc.System)
	}
	if sc.Custom != "" {
		b = append(b, `,"custom":`...)
		b = appendString(b, sc.Custom)
		b = append(b, `,"customId":`...)
		b = strconv.AppendInt(b, int64(sc.CustomID), 10)
	}
	return append(b, '}')
}

func (s *Server) serverInfo(w http.ResponseWriter, base string) {
	b := []byte(`{"baseUrl":`)
	b = appendString(b, base)
	if s.opts.Flavor == Cloud {
		b = append(b, `,"version":"1001.0.0-SNAPSHOT","versionNumbers":[1001,0,0],"deploymentType":"Cloud","buildNumber":100280`...)
	} else {
		b = append(b, `,"version":"9.12.15","versionNumbers":[9,12,15],"deploymentType":"Server","buildNumber":9120015`...)
	}
	b = append(b, `,"serverTime":`...)
	b = appendString(b, s.opts.Now().In(s.loc()).Format(jiraTime))
	b = append(b, `,"serverTitle":"Jira"}`...)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, base, api, idOrKey string) {
	q := r.URL.Query()
	sel := s.cat.selectFields(q["fields"], "*all")
	sel.idOnly = false
	s.mu.RLock()
	rec := s.lookup(idOrKey)
	if rec == nil {
		s.mu.RUnlock()
		writeJSON(w, http.StatusNotFound, errorBody(issueNotFound))
		return
	}
	rc := s.renderContext(base, api, sel, issueExpand)
	b := s.appendIssue(nil, rec, &rc)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, b)
}

// commentRequest is the body of POST …/issue/{key}/comment.
type commentRequest struct {
	Body       json.RawMessage `json:"body"`
	Visibility json.RawMessage `json:"visibility"`
	Properties json.RawMessage `json:"properties"`
}

func (s *Server) addComment(w http.ResponseWriter, base, api, idOrKey string, body []byte) {
	var req commentRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(invalidPayload))
		return
	}
	var text string
	if api == "3" {
		var doc adfNode
		if len(req.Body) == 0 || req.Body[0] != '{' || json.Unmarshal(req.Body, &doc) != nil || doc.Type != "doc" {
			writeJSON(w, http.StatusBadRequest, fieldErrorBody("comment",
				"Operation value must be an Atlassian Document (see the Atlassian Document Format)"))
			return
		}
		text = doc.text()
	} else if len(req.Body) > 0 && req.Body[0] == '"' {
		_ = json.Unmarshal(req.Body, &text)
	}
	if strings.TrimSpace(text) == "" {
		writeJSON(w, http.StatusBadRequest, fieldErrorBody("comment", "Comment body can not be empty!"))
		return
	}
	s.mu.Lock()
	rec := s.lookup(idOrKey)
	if rec == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, errorBody(issueNotFound))
		return
	}
	now := s.opts.Now().Truncate(time.Millisecond)
	c := comment{
		ID: strconv.FormatInt(s.nextComment, 10), Issue: rec.ID, Text: text,
		Body: req.Body, Created: now, API: api,
	}
	s.nextComment++
	s.comments[rec.ID] = append(s.comments[rec.ID], c)
	// Jira counts a comment as an update of the issue: the next incremental
	// search sees the issue again.
	upd := *rec
	upd.Updated = now
	s.replace(rec, &upd)
	b := s.appendComment(nil, base, &upd, c, api)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, b)
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, base, api, idOrKey string) {
	q := r.URL.Query()
	startAt, _ := strconv.Atoi(q.Get("startAt"))
	maxResults, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || maxResults <= 0 {
		maxResults = 100
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.lookup(idOrKey)
	if rec == nil {
		writeJSON(w, http.StatusNotFound, errorBody(issueNotFound))
		return
	}
	all := s.comments[rec.ID]
	switch q.Get("orderBy") {
	case "", "created", "+created":
	case "-created":
		// Newest first; comments are stored oldest first.
		all = slices.Clone(all)
		slices.Reverse(all)
	default:
		writeJSON(w, http.StatusBadRequest, errorBody("Invalid orderBy value: "+q.Get("orderBy")+". Valid values are created, -created, +created."))
		return
	}
	startAt = min(max(startAt, 0), len(all))
	page := all[startAt:min(startAt+maxResults, len(all))]
	b := []byte(`{"comments":[`)
	for i, c := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendComment(b, base, rec, c, api)
	}
	b = append(b, `],"maxResults":`...)
	b = strconv.AppendInt(b, int64(maxResults), 10)
	b = append(b, `,"startAt":`...)
	b = strconv.AppendInt(b, int64(startAt), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(len(all)), 10)
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) appendComment(b []byte, base string, rec *record, c comment, api string) []byte {
	b = append(b, `{"self":`...)
	b = appendString(b, base+"/rest/api/"+api+"/issue/"+rec.ID+"/comment/"+c.ID)
	b = append(b, `,"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"author":`...)
	b = s.appendUser(b, base, api, selfName)
	b = append(b, `,"body":`...)
	switch {
	case api == "3":
		b = append(b, c.Body...)
	case c.API == "3":
		// A v3 comment read through v2 comes back as wiki text.
		b = appendString(b, c.Text)
	default:
		b = append(b, c.Body...)
	}
	b = append(b, `,"updateAuthor":`...)
	b = s.appendUser(b, base, api, selfName)
	b = append(b, `,"created":`...)
	b = appendString(b, c.Created.In(s.loc()).Format(jiraTime))
	b = append(b, `,"updated":`...)
	b = appendString(b, c.Created.In(s.loc()).Format(jiraTime))
	if s.opts.Flavor == Cloud {
		b = append(b, `,"jsdPublic":true`...)
	}
	return append(b, '}')
}

// adfNode is a node of an Atlassian Document Format document.
type adfNode struct {
	Type    string    `json:"type"`
	Text    string    `json:"text"`
	Content []adfNode `json:"content"`
}

// text flattens a document: text nodes concatenated, block nodes (paragraph,
// heading, list item, …) separated by newlines.
func (n adfNode) text() string {
	var blocks []string
	var walk func(n adfNode, cur *strings.Builder)
	walk = func(n adfNode, cur *strings.Builder) {
		switch n.Type {
		case "text":
			cur.WriteString(n.Text)
		case "hardBreak":
			cur.WriteByte('\n')
		case "paragraph", "heading", "codeBlock":
			var sb strings.Builder
			for _, c := range n.Content {
				walk(c, &sb)
			}
			blocks = append(blocks, sb.String())
		default:
			for _, c := range n.Content {
				walk(c, cur)
			}
		}
	}
	var top strings.Builder
	walk(n, &top)
	if top.Len() > 0 {
		blocks = append(blocks, top.String())
	}
	return strings.Join(blocks, "\n")
}
