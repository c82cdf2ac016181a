package jirasim

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	unboundedJQL     = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
	invalidPageToken = "Invalid nextPageToken"
	defaultPageSize  = 50
	cachedSearches   = 4
)

// sortVal is one component of an issue's position in a search order. Empty
// values sort after every other value.
type sortVal struct {
	empty bool
	s     string
	n     int64
	f     float64
}

func compareVal(a, b sortVal) int {
	if a.empty != b.empty {
		if a.empty {
			return 1
		}
		return -1
	}
	if c := strings.Compare(a.s, b.s); c != 0 {
		return c
	}
	if c := compareInt(a.n, b.n); c != 0 {
		return c
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

// orderKey is one compiled ORDER BY term.
type orderKey struct {
	desc bool
	val  func(*record) sortVal
}

func compareRow(a, b []sortVal, order []orderKey) int {
	for i, k := range order {
		c := compareVal(a[i], b[i])
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compileOrder compiles ORDER BY terms; without any, Jira's search orders by
// key, newest first. An id term always ends the order so that every issue
// has a distinct position, which nextPageToken relies on.
func (s *Server) compileOrder(terms []orderTerm) ([]orderKey, error) {
	if len(terms) == 0 {
		terms = []orderTerm{{field: "key", desc: true}}
	}
	var keys []orderKey
	var errs []string
	for _, t := range terms {
		f, ok := s.resolveField(t.field)
		if !ok {
			errs = append(errs, "Field '"+t.field+"' does not exist or you do not have permission to view it.")
			continue
		}
		var val func(*record) sortVal
		switch {
		case f.kind == kKey:
			// ORDER BY id sorts as ORDER BY key does: id is the key's alias.
			val = func(r *record) sortVal { return sortVal{s: r.Project, n: r.keyNum} }
		case f.kind == kTime || f.kind == kDate:
			get := timeOf(f)
			val = func(r *record) sortVal {
				ms, ok := get(r)
				return sortVal{empty: !ok, n: ms}
			}
		case f.kind == kNumber:
			val = func(r *record) sortVal {
				p := r.PlannedCost
				if f.id == fActualCost {
					p = r.ActualCost
				}
				if p == nil {
					return sortVal{empty: true}
				}
				return sortVal{f: *p}
			}
		case f.kind == kEnum && f.id == fPriority:
			val = func(r *record) sortVal {
				if r.Priority == "" {
					return sortVal{empty: true}
				}
				id, _ := strconv.ParseInt(s.reg.priorities.known(r.Priority).ID, 10, 64)
				return sortVal{n: id}
			}
		case f.kind == kEnum:
			val = func(r *record) sortVal {
				v := f.str(r)
				return sortVal{empty: v == "", s: v}
			}
		default:
			errs = append(errs, "Field '"+t.field+"' does not support sorting.")
			continue
		}
		keys = append(keys, orderKey{desc: t.desc, val: val})
	}
	if len(errs) > 0 {
		return nil, &jqlError{msgs: errs}
	}
	return append(keys, orderKey{val: func(r *record) sortVal { return sortVal{n: r.num} }}), nil
}

// result is a search's matches in order, cached while nothing changes.
type result struct {
	jql     string
	version uint64
	usesNow bool  // relative dates: the matches depend on the clock
	nowMS   int64 // the clock the predicate saw
	recs    []*record
	rows    []sortVal // len(order) values per record, flattened
	order   []orderKey
}

func (res *result) row(i int) []sortVal {
	n := len(res.order)
	return res.rows[i*n : (i+1)*n]
}

// search runs a JQL query; the caller holds s.mu for reading. Paging
// through 100k issues fetches the same query hundreds of times, so the
// sorted result is kept until the data or the clock changes. Cloud refuses
// a query without a restriction (bounded).
func (s *Server) search(jql string, bounded bool) (*result, error) {
	nowMS := s.opts.Now().UnixMilli()
	s.qmu.Lock()
	for i, c := range s.cache {
		if c.jql == jql && c.version == s.version && (!c.usesNow || c.nowMS == nowMS) {
			copy(s.cache[1:i+1], s.cache[:i])
			s.cache[0] = c
			s.qmu.Unlock()
			return c, nil
		}
	}
	s.qmu.Unlock()

	pq, err := parseJQL(jql)
	if err != nil {
		return nil, err
	}
	if bounded && pq.where == nil {
		return nil, &jqlError{msgs: []string{unboundedJQL}}
	}
	match, usesNow, err := s.compile(pq)
	if err != nil {
		return nil, err
	}
	order, err := s.compileOrder(pq.order)
	if err != nil {
		return nil, err
	}
	res := &result{jql: jql, version: s.version, usesNow: usesNow, nowMS: nowMS, order: order}
	for _, r := range s.recs {
		if match(r) {
			res.recs = append(res.recs, r)
		}
	}
	n := len(order)
	rows := make([]sortVal, len(res.recs)*n)
	idx := make([]int, len(res.recs))
	for i, r := range res.recs {
		idx[i] = i
		for j, k := range order {
			rows[i*n+j] = k.val(r)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		return compareRow(rows[a*n:(a+1)*n], rows[b*n:(b+1)*n], order)
	})
	sorted := make([]*record, len(idx))
	res.rows = make([]sortVal, len(rows))
	for i, j := range idx {
		sorted[i] = res.recs[j]
		copy(res.rows[i*n:(i+1)*n], rows[j*n:(j+1)*n])
	}
	res.recs = sorted

	s.qmu.Lock()
	kept := []*result{res}
	for _, c := range s.cache {
		if c.version == s.version && len(kept) < cachedSearches {
			kept = append(kept, c)
		}
	}
	s.cache = kept
	s.qmu.Unlock()
	return res, nil
}

// A nextPageToken names the position of the last issue served (its sort
// values) and the query it belongs to, so the next page starts right after
// that issue even if issues before it were added or removed meanwhile.

func jqlHash(jql string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(jql))
	return h.Sum64()
}

func encodeToken(jql string, row []sortVal) string {
	b := []byte{1}
	b = binary.BigEndian.AppendUint64(b, jqlHash(jql))
	for _, v := range row {
		flag := byte(0)
		if v.empty {
			flag = 1
		}
		b = append(b, flag)
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		b = append(b, v.s...)
		b = binary.AppendVarint(b, v.n)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.f))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken reads a token of the query jql with n order terms; ok is
// false for anything else.
func decodeToken(tok, jql string, n int) (row []sortVal, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 9 || b[0] != 1 || binary.BigEndian.Uint64(b[1:9]) != jqlHash(jql) {
		return nil, false
	}
	b = b[9:]
	row = make([]sortVal, n)
	for i := range row {
		if len(b) < 1 || b[0] > 1 {
			return nil, false
		}
		row[i].empty = b[0] == 1
		b = b[1:]
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, false
		}
		row[i].s = string(b[k : k+int(l)])
		b = b[k+int(l):]
		v, k := binary.Varint(b)
		if k <= 0 || len(b)-k < 8 {
			return nil, false
		}
		row[i].n = v
		row[i].f = math.Float64frombits(binary.BigEndian.Uint64(b[k : k+8]))
		b = b[k+8:]
	}
	if len(b) != 0 {
		return nil, false
	}
	return row, true
}

// searchParams are the parameters common to both search APIs.
type searchParams struct {
	jql        string
	token      string
	startAt    int
	maxResults int // -1: not sent
	fields     []string
	expand     []string
}

// jqlSearchBody is the body of POST /rest/api/3/search/jql.
type jqlSearchBody struct {
	JQL             string          `json:"jql"`
	NextPageToken   *string         `json:"nextPageToken"`
	MaxResults      *int            `json:"maxResults"`
	Fields          []string        `json:"fields"`
	Expand          json.RawMessage `json:"expand"`
	FieldsByKeys    bool            `json:"fieldsByKeys"`
	Properties      []string        `json:"properties"`
	FailFast        bool            `json:"failFast"`
	ReconcileIssues []int64         `json:"reconcileIssues"`
}

// dcSearchBody is the body of POST /rest/api/2/search on Data Center.
type dcSearchBody struct {
	JQL           string          `json:"jql"`
	StartAt       *int            `json:"startAt"`
	MaxResults    *int            `json:"maxResults"`
	Fields        []string        `json:"fields"`
	Expand        json.RawMessage `json:"expand"`
	ValidateQuery json.RawMessage `json:"validateQuery"`
	FieldsByKeys  bool            `json:"fieldsByKeys"`
	Properties    []string        `json:"properties"`
}

// readParams reads search parameters from the query string (GET) or the
// JSON body (POST). It returns a non-nil error body on bad input.
func readParams(r *http.Request, body []byte, cloud bool) (searchParams, []byte) {
	p := searchParams{maxResults: -1}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		p.jql = q.Get("jql")
		p.token = q.Get("nextPageToken")
		p.fields = q["fields"]
		p.expand = splitList(q["expand"])
		for _, name := range []string{"maxResults", "startAt"} {
			v := q.Get(name)
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, errorBody("The value '" + v + "' is not valid for the parameter '" + name + "'.")
			}
			if name == "maxResults" {
				p.maxResults = max(n, 0)
			} else {
				p.startAt = max(n, 0)
			}
		}
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var expand json.RawMessage
	if cloud {
		var b jqlSearchBody
		if err := dec.Decode(&b); err != nil {
			return p, errorBody(invalidPayload)
		}
		p.jql, p.fields, expand = b.JQL, b.Fields, b.Expand
		if b.NextPageToken != nil {
			p.token = *b.NextPageToken
		}
		if b.MaxResults != nil {
			p.maxResults = max(*b.MaxResults, 0)
		}
	} else {
		var b dcSearchBody
		if err := dec.Decode(&b); err != nil {
			return p, errorBody(invalidPayload)
		}
		p.jql, p.fields, expand = b.JQL, b.Fields, b.Expand
		if b.StartAt != nil {
			p.startAt = max(*b.StartAt, 0)
		}
		if b.MaxResults != nil {
			p.maxResults = max(*b.MaxResults, 0)
		}
	}
	// Cloud takes expand as one comma-separated string, Data Center as a
	// list; accept either.
	var one string
	var list []string
	switch {
	case len(expand) == 0 || string(expand) == "null":
	case json.Unmarshal(expand, &one) == nil:
		p.expand = splitList([]string{one})
	case json.Unmarshal(expand, &list) == nil:
		p.expand = splitList(list)
	default:
		return p, errorBody(invalidPayload)
	}
	return p, nil
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// pageSize applies the default and the cap that depends on what is fetched.
func (s *Server) pageSize(requested int, sel selection) int {
	limit := s.opts.MaxResults
	if sel.set == 0 {
		limit = s.opts.MaxIDResults
	}
	if requested < 0 {
		requested = defaultPageSize
	}
	return min(requested, limit)
}

// searchJQL serves Cloud's GET|POST /rest/api/{2,3}/search/jql.
func (s *Server) searchJQL(w http.ResponseWriter, r *http.Request, base, api string, body []byte) {
	p, bad := readParams(r, body, true)
	if bad != nil {
		writeJSON(w, http.StatusBadRequest, bad)
		return
	}
	sel := s.cat.selectFields(p.fields, "id")
	size := s.pageSize(p.maxResults, sel)
	if size == 0 {
		// Cloud has no way to ask for a count only; treat 0 as the default.
		size = s.pageSize(-1, sel)
	}
	s.mu.RLock()
	res, err := s.search(p.jql, true)
	if err != nil {
		s.mu.RUnlock()
		writeJQLError(w, err)
		return
	}
	start := 0
	if p.token != "" {
		after, ok := decodeToken(p.token, p.jql, len(res.order))
		if !ok {
			s.mu.RUnlock()
			writeJSON(w, http.StatusBadRequest, errorBody(invalidPageToken))
			return
		}
		start = sort.Search(len(res.recs), func(i int) bool {
			return compareRow(res.row(i), after, res.order) > 0
		})
	}
	end := min(start+size, len(res.recs))
	rc := s.renderContext(base, api, sel, "")
	b := make([]byte, 0, 64+(end-start)*estimateIssueSize(sel))
	b = append(b, `{"issues":[`...)
	for i := start; i < end; i++ {
		if i > start {
			b = append(b, ',')
		}
		b = s.appendIssue(b, res.recs[i], &rc)
	}
	b = append(b, ']')
	b = s.appendNamesSchema(b, p.expand, sel)
	isLast := end >= len(res.recs)
	if !isLast {
		b = append(b, `,"nextPageToken":`...)
		b = appendString(b, encodeToken(p.jql, res.row(end-1)))
	}
	b = append(b, `,"isLast":`...)
	b = strconv.AppendBool(b, isLast)
	b = append(b, '}')
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, b)
}

// searchDC serves Data Center's GET|POST /rest/api/2/search.
func (s *Server) searchDC(w http.ResponseWriter, r *http.Request, base string, body []byte) {
	p, bad := readParams(r, body, false)
	if bad != nil {
		writeJSON(w, http.StatusBadRequest, bad)
		return
	}
	sel := s.cat.selectFields(p.fields, "*navigable")
	sel.idOnly = false
	size := s.pageSize(p.maxResults, sel)
	s.mu.RLock()
	res, err := s.search(p.jql, false)
	if err != nil {
		s.mu.RUnlock()
		writeJQLError(w, err)
		return
	}
	start := min(p.startAt, len(res.recs))
	end := min(start+size, len(res.recs))
	rc := s.renderContext(base, "2", sel, dcSearchExpand)
	b := make([]byte, 0, 128+(end-start)*estimateIssueSize(sel))
	b = append(b, `{"expand":"schema,names","startAt":`...)
	b = strconv.AppendInt(b, int64(p.startAt), 10)
	b = append(b, `,"maxResults":`...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(len(res.recs)), 10)
	b = append(b, `,"issues":[`...)
	for i := start; i < end; i++ {
		if i > start {
			b = append(b, ',')
		}
		b = s.appendIssue(b, res.recs[i], &rc)
	}
	b = append(b, ']')
	b = s.appendNamesSchema(b, p.expand, sel)
	b = append(b, '}')
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, b)
}

func estimateIssueSize(sel selection) int {
	if sel.set == 0 {
		return 96
	}
	return 2048
}

// appendNamesSchema adds the top-level "names" and "schema" maps that
// expand=names,schema asks for.
func (s *Server) appendNamesSchema(b []byte, expand []string, sel selection) []byte {
	for _, e := range expand {
		if e != "names" && e != "schema" {
			continue
		}
		b = append(b, ',')
		b = appendString(b, e)
		b = append(b, `:{`...)
		first := true
		for f := fieldID(0); f < numFields; f++ {
			d := s.cat.rendered[f]
			if !sel.set.has(f) || (e == "schema" && d.Schema == nil) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, d.ID)
			b = append(b, ':')
			if e == "names" {
				b = appendString(b, d.Name)
			} else {
				b = appendSchema(b, d.Schema)
			}
		}
		b = append(b, '}')
	}
	return b
}

func writeJQLError(w http.ResponseWriter, err error) {
	var je *jqlError
	if errors.As(err, &je) {
		writeJSON(w, http.StatusBadRequest, errorBody(je.msgs...))
		return
	}
	writeJSON(w, http.StatusBadRequest, errorBody(err.Error()))
}
