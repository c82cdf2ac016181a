// Package jirasim is an in-memory Jira that answers the REST calls a sync
// connector makes, the way Jira Cloud or Jira Data Center answers them:
// /myself, /field, JQL search (Cloud's search/jql with nextPageToken and
// isLast, Data Center's search with startAt and total, the removed Cloud
// search answering 410), single issues and comments. It parses the JQL a
// connector sends (dates in the user's time zone), renders issues with Jira's
// shapes (time offsets, select options, Atlassian Document Format on Cloud
// v3), checks credentials, and fails on request (Inject) so that retry and
// error paths can be tested. Connector tests, the demo and the benchmarks
// use it; it holds hundreds of thousands of issues comfortably.
package jirasim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The user's zone must load on hosts without a zoneinfo database (a
	// container running the demo), so the binary carries its own copy.
	_ "time/tzdata"
)

// Flavor selects which Jira the server imitates.
type Flavor string

// The flavors.
const (
	Cloud      Flavor = "cloud"
	DataCenter Flavor = "datacenter"
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	Flavor Flavor // default Cloud
	// Email is the Cloud user: requests must send Basic base64(email:token).
	Email string
	// Token is the Cloud API token, or the Data Center personal access token
	// (sent as Bearer). An empty Token turns authentication off.
	Token string
	// TimeZone is the user's zone: /myself reports it, JQL date literals are
	// read in it and times are rendered with its offset. Default
	// "America/New_York".
	TimeZone string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxResults caps a page when fields other than id/key are requested;
	// default 100.
	MaxResults int
	// MaxIDResults caps a page when only id/key are requested; default 5000
	// on Cloud, 1000 on Data Center.
	MaxIDResults int
	// BaseURL is what "self" links start with; default the server's own
	// URL (set by Start, or taken from the request's Host). It is the
	// site URL /serverInfo reports as baseUrl.
	BaseURL string
	// CloudID, on Cloud, also serves the API under /ex/jira/{CloudID}, as
	// Atlassian's gateway (https://api.atlassian.com/ex/jira/{cloudId})
	// does for scoped API tokens and service accounts.
	CloudID string
	// ScopedToken makes the credentials a scoped API token: the gateway
	// path (CloudID) accepts them and the site's own paths answer 401.
	ScopedToken bool
}

// Issue is one issue as the simulator stores it. Names (status, type,
// priority, resolution, assignee) are display names; the server gives them
// ids and renders them with Jira's shapes.
type Issue struct {
	ID, Key, Project string
	Type             string // "Task", "Story", "Bug", "Milestone", "Risk", "Sub-task", …; default "Task"
	Summary          string
	Description      string
	Status           string // default "To Do"
	StatusCategory   string // new | indeterminate | done; default the status's own category
	Resolution       string // "", "Done", "Won't Do", "Cancelled", …
	Assignee         string // display name, "" for unassigned
	Priority         string // "Highest" … "Lowest", "" for none
	Due, Start       string // "2026-03-01" or ""
	PlannedCost      *float64
	ActualCost       *float64
	Likelihood       string // select option value "1".."5" or ""
	Impact           string // select option value "1".."5" or ""
	Labels           []string
	Parent           string // parent key or ""
	Created, Updated time.Time
}

// ErrNotFound is returned for a key no issue has.
var ErrNotFound = errors.New("no such issue")

// record is a stored issue plus the values searching needs precomputed.
type record struct {
	Issue
	num    int64 // numeric ID
	keyNum int64 // n of PROJECT-n
	// former are the keys the issue had before it was moved to another
	// project: Jira still resolves them to the issue.
	former []string
	due    int64 // due date as Unix ms at midnight in the user's zone; 0 when unset
	start  int64 // start date, likewise
}

// project is a Jira project the server knows of.
type project struct {
	ID   string
	Key  string
	Name string
}

type comment struct {
	ID      string
	Issue   string // issue id
	Text    string
	Body    []byte // the body as posted (ADF object on v3, JSON string on v2)
	Created time.Time
	API     string
}

// Server is a simulated Jira. It is safe for concurrent use.
type Server struct {
	opts Options
	zone atomic.Pointer[userZone] // the user's time zone; SetTimeZone changes it
	cat  *catalog

	mu          sync.RWMutex
	base        string
	recs        []*record // ordered by num
	byKey       map[string]*record
	byID        map[string]*record
	nextID      int64
	nextNum     map[string]int64
	projects    map[string]*project // by key
	projectByID map[string]*project
	reg         registries
	version     uint64               // bumped on every change; invalidates cached searches
	comments    map[string][]comment // by issue id
	nextComment int64

	qmu   sync.Mutex
	cache []*result // most recently used first

	fmu    sync.Mutex
	faults []*pendingFault

	cmu   sync.Mutex
	calls []Call
}

// New returns a server with no issues. It panics on an unknown flavor or
// time zone: both are programming errors of the caller.
func New(opts Options) *Server {
	if opts.Flavor == "" {
		opts.Flavor = Cloud
	}
	if opts.Flavor != Cloud && opts.Flavor != DataCenter {
		panic(fmt.Sprintf("jirasim: unknown flavor %q", opts.Flavor))
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "America/New_York"
	}
	loc, err := time.LoadLocation(opts.TimeZone)
	if err != nil {
		panic(fmt.Sprintf("jirasim: load time zone %q: %v", opts.TimeZone, err))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = 100
	}
	if opts.MaxIDResults <= 0 {
		opts.MaxIDResults = 5000
		if opts.Flavor == DataCenter {
			opts.MaxIDResults = 1000
		}
	}
	cat := newCatalog(opts.Flavor)
	s := &Server{
		opts:        opts,
		cat:         cat,
		base:        strings.TrimSuffix(opts.BaseURL, "/"),
		byKey:       map[string]*record{},
		byID:        map[string]*record{},
		nextID:      10000,
		nextNum:     map[string]int64{},
		projects:    map[string]*project{},
		projectByID: map[string]*project{},
		reg:         newRegistries(cat),
		comments:    map[string][]comment{},
		nextComment: 10000,
	}
	s.zone.Store(&userZone{name: opts.TimeZone, loc: loc})
	return s
}

// userZone is the user's time zone: its IANA name, as /myself reports it,
// and the location JQL date literals and rendered times use.
type userZone struct {
	name string
	loc  *time.Location
}

// loc is the user's time zone now.
func (s *Server) loc() *time.Location { return s.zone.Load().loc }

// SetTimeZone changes the user's time zone, as a user editing their
// profile does: from now on /myself reports it, and JQL date literals are
// read and times rendered in it.
func (s *Server) SetTimeZone(name string) error {
	if name == "" {
		return errors.New("jirasim: no time zone named")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return fmt.Errorf("jirasim: time zone %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone.Store(&userZone{name: name, loc: loc})
	// Dates are kept as the instant of their midnight in the user's zone.
	// Records are replaced, never mutated (see replace).
	for _, old := range slices.Clone(s.recs) {
		r := *old
		r.due, _ = s.dateMillis(r.Due)
		r.start, _ = s.dateMillis(r.Start)
		s.replace(old, &r)
	}
	return nil
}

// Start serves s on a loopback httptest server and, when BaseURL was not
// set, uses its URL in self links. The caller closes the returned server.
func (s *Server) Start() *httptest.Server {
	ts := httptest.NewServer(s)
	s.mu.Lock()
	if s.base == "" {
		s.base = ts.URL
	}
	s.mu.Unlock()
	return ts
}

// validProject reports whether p looks like a Jira project key: an upper
// case letter followed by upper case letters, digits or underscores.
func validProject(p string) bool {
	if p == "" || p[0] < 'A' || p[0] > 'Z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// splitKey splits PROJECT-n; ok is false for anything else.
func splitKey(key string) (proj string, n int64, ok bool) {
	i := strings.LastIndexByte(key, '-')
	if i < 0 || !validProject(key[:i]) || len(key) == i+1 || key[i+1] == '0' {
		return "", 0, false
	}
	n, err := strconv.ParseInt(key[i+1:], 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return key[:i], n, true
}

// Add stores issues and returns their keys. It assigns an ID (numeric, from
// 10000) and a Key (PROJECT-n) when empty, and sets Created and Updated to
// Now when zero; times are kept at millisecond precision, as Jira does. It
// panics on an issue that cannot exist in Jira (no project, a malformed or
// duplicate key or ID, a malformed date): test data is code.
func (s *Server) Add(issues ...Issue) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Bumped first: a panic half-way must still invalidate cached searches.
	s.version++
	now := s.opts.Now()
	keys := make([]string, 0, len(issues))
	for _, is := range issues {
		r, err := s.newRecord(is, now)
		if err != nil {
			panic("jirasim: add issue: " + err.Error())
		}
		s.insert(r)
		keys = append(keys, r.Key)
	}
	return keys
}

func (s *Server) newRecord(is Issue, now time.Time) (*record, error) {
	is = cloneIssue(is)
	if is.Key != "" {
		proj, _, ok := splitKey(is.Key)
		if !ok {
			return nil, fmt.Errorf("malformed key %q", is.Key)
		}
		if is.Project != "" && is.Project != proj {
			return nil, fmt.Errorf("key %q is not in project %q", is.Key, is.Project)
		}
		is.Project = proj
		if _, dup := s.byKey[is.Key]; dup {
			return nil, fmt.Errorf("duplicate key %q", is.Key)
		}
	}
	if !validProject(is.Project) {
		return nil, fmt.Errorf("issue %q needs a project key such as EHR, got %q", is.Summary, is.Project)
	}
	var num int64
	if is.ID == "" {
		num = s.nextID
		is.ID = strconv.FormatInt(num, 10)
	} else {
		n, err := strconv.ParseInt(is.ID, 10, 64)
		if err != nil || n <= 0 || strconv.FormatInt(n, 10) != is.ID {
			return nil, fmt.Errorf("malformed id %q: Jira ids are positive numbers", is.ID)
		}
		if _, dup := s.byID[is.ID]; dup {
			return nil, fmt.Errorf("duplicate id %q", is.ID)
		}
		num = n
	}
	s.nextID = max(s.nextID, num+1)
	if is.Key == "" {
		n := max(s.nextNum[is.Project], 1)
		for {
			is.Key = is.Project + "-" + strconv.FormatInt(n, 10)
			if _, taken := s.byKey[is.Key]; !taken {
				break
			}
			n++
		}
	}
	_, keyNum, _ := splitKey(is.Key)
	s.nextNum[is.Project] = max(s.nextNum[is.Project], keyNum+1)
	if is.Created.IsZero() {
		is.Created = now
	}
	if is.Updated.IsZero() {
		is.Updated = now
	}
	is.Created = is.Created.Truncate(time.Millisecond)
	is.Updated = is.Updated.Truncate(time.Millisecond)
	r := &record{Issue: is, num: num, keyNum: keyNum}
	if err := s.normalize(r); err != nil {
		return nil, err
	}
	return r, nil
}

// normalize fills defaults, validates dates and registers the names r uses.
func (s *Server) normalize(r *record) error {
	if r.Type == "" {
		r.Type = "Task"
	}
	if r.Status == "" {
		r.Status = "To Do"
	}
	if r.StatusCategory != "" {
		if _, ok := categoryOf(r.StatusCategory); !ok {
			return fmt.Errorf("issue %s: unknown status category %q (want new, indeterminate or done)", r.Key, r.StatusCategory)
		}
	}
	st := s.reg.statuses.ensure(r.Status, func(n *named) {
		n.Category = r.StatusCategory
		if n.Category == "" {
			n.Category = "new"
		}
	})
	if r.StatusCategory == "" {
		r.StatusCategory = st.Category
	}
	// Names are stored as the instance spells them ("done" is "Done"), so
	// searches compare exact strings.
	r.Status = st.Name
	r.Type = s.reg.types.ensure(r.Type, nil).Name
	if r.Priority != "" {
		r.Priority = s.reg.priorities.ensure(r.Priority, nil).Name
	}
	if r.Resolution != "" {
		r.Resolution = s.reg.resolutions.ensure(r.Resolution, nil).Name
	}
	if r.Likelihood != "" {
		r.Likelihood = s.reg.likelihood.ensure(r.Likelihood, nil).Name
	}
	if r.Impact != "" {
		r.Impact = s.reg.impact.ensure(r.Impact, nil).Name
	}
	var err error
	if r.due, err = s.dateMillis(r.Due); err != nil {
		return fmt.Errorf("issue %s: due date: %w", r.Key, err)
	}
	if r.start, err = s.dateMillis(r.Start); err != nil {
		return fmt.Errorf("issue %s: start date: %w", r.Key, err)
	}
	if _, ok := s.projects[r.Project]; !ok {
		p := &project{ID: strconv.Itoa(10000 + len(s.projects)), Key: r.Project, Name: r.Project}
		s.projects[p.Key] = p
		s.projectByID[p.ID] = p
	}
	return nil
}

func (s *Server) dateMillis(d string) (int64, error) {
	if d == "" {
		return 0, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, d, s.loc())
	if err != nil {
		return 0, fmt.Errorf("want yyyy-mm-dd, got %q", d)
	}
	return t.UnixMilli(), nil
}

func (s *Server) insert(r *record) {
	i := len(s.recs)
	if i > 0 && s.recs[i-1].num > r.num {
		i = sort.Search(len(s.recs), func(j int) bool { return s.recs[j].num > r.num })
	}
	s.recs = slices.Insert(s.recs, i, r)
	s.index(r)
}

// index points the issue's key, former keys and id at r.
func (s *Server) index(r *record) {
	s.byKey[r.Key] = r
	for _, k := range r.former {
		s.byKey[k] = r
	}
	s.byID[r.ID] = r
}

// replace swaps the stored version of an issue for r. Records are
// replaced, never mutated: cached search results keep pointing at the
// version they sorted.
func (s *Server) replace(old, r *record) {
	s.recs[s.indexOf(old)] = r
	s.index(r)
	s.version++
}

func (s *Server) indexOf(r *record) int {
	i := sort.Search(len(s.recs), func(j int) bool { return s.recs[j].num >= r.num })
	if i < len(s.recs) && s.recs[i] == r {
		return i
	}
	return -1
}

// lookup finds an issue by key or numeric id, as Jira's {issueIdOrKey}.
func (s *Server) lookup(idOrKey string) *record {
	if r, ok := s.byKey[strings.ToUpper(idOrKey)]; ok {
		return r
	}
	return s.byID[idOrKey]
}

// Update applies fn to a copy of the issue and stores it with Updated set to
// Now. ID, Key and Project are kept: fn cannot move an issue.
func (s *Server) Update(key string, fn func(*Issue)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.lookup(key)
	if old == nil {
		return fmt.Errorf("update issue %s: %w", key, ErrNotFound)
	}
	is := cloneIssue(old.Issue)
	fn(&is)
	is = cloneIssue(is)
	if is.Status != old.Status && is.StatusCategory == old.StatusCategory {
		// A new status brings its own category unless fn chose one.
		is.StatusCategory = ""
	}
	is.ID, is.Key, is.Project = old.ID, old.Key, old.Project
	is.Updated = s.opts.Now().Truncate(time.Millisecond)
	is.Created = is.Created.Truncate(time.Millisecond)
	r := &record{Issue: is, num: old.num, keyNum: old.keyNum, former: old.former}
	if err := s.normalize(r); err != nil {
		return fmt.Errorf("update issue %s: %w", key, err)
	}
	s.replace(old, r)
	return nil
}

// Move moves an issue to another project, as Jira's Move does: the issue
// keeps its id, takes the next key of the new project and keeps answering
// to its old key (in GET issue and in JQL). Its Updated time is set to
// Now. It returns the new key.
func (s *Server) Move(key, project string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.lookup(key)
	if old == nil {
		return "", fmt.Errorf("move issue %s: %w", key, ErrNotFound)
	}
	if !validProject(project) {
		return "", fmt.Errorf("move issue %s: %q is not a project key", key, project)
	}
	if project == old.Project {
		return old.Key, nil
	}
	is := cloneIssue(old.Issue)
	n := max(s.nextNum[project], 1)
	for {
		is.Key = project + "-" + strconv.FormatInt(n, 10)
		if _, taken := s.byKey[is.Key]; !taken {
			break
		}
		n++
	}
	s.nextNum[project] = n + 1
	is.Project = project
	is.Updated = s.opts.Now().Truncate(time.Millisecond)
	r := &record{Issue: is, num: old.num, keyNum: n, former: append(slices.Clone(old.former), old.Key)}
	if err := s.normalize(r); err != nil {
		return "", fmt.Errorf("move issue %s: %w", key, err)
	}
	s.replace(old, r)
	return r.Key, nil
}

// Delete removes an issue.
func (s *Server) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(key)
	if r == nil {
		return fmt.Errorf("delete issue %s: %w", key, ErrNotFound)
	}
	s.recs = slices.Delete(s.recs, s.indexOf(r), s.indexOf(r)+1)
	delete(s.byKey, r.Key)
	for _, k := range r.former {
		delete(s.byKey, k)
	}
	delete(s.byID, r.ID)
	s.version++
	return nil
}

// Issues returns a copy of every issue, ordered by ID.
func (s *Server) Issues() []Issue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Issue, len(s.recs))
	for i, r := range s.recs {
		out[i] = cloneIssue(r.Issue)
	}
	return out
}

// Issue returns a copy of the issue with the given key.
func (s *Server) Issue(key string) (Issue, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.lookup(key)
	if r == nil {
		return Issue{}, false
	}
	return cloneIssue(r.Issue), true
}

// Comments returns the text of the comments posted to an issue through the
// API, oldest first. Atlassian Document Format bodies are flattened: text
// nodes joined, paragraphs separated by newlines.
func (s *Server) Comments(key string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.lookup(key)
	if r == nil {
		return nil
	}
	var out []string
	for _, c := range s.comments[r.ID] {
		out = append(out, c.Text)
	}
	return out
}

func cloneIssue(is Issue) Issue {
	is.Labels = slices.Clone(is.Labels)
	if is.PlannedCost != nil {
		v := *is.PlannedCost
		is.PlannedCost = &v
	}
	if is.ActualCost != nil {
		v := *is.ActualCost
		is.ActualCost = &v
	}
	return is
}

// AddComment stores a comment written by a person (as plain text through
// the v2 API), as if someone had commented in Jira's UI.
func (s *Server) AddComment(key, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(key)
	if r == nil {
		return fmt.Errorf("comment on issue %s: %w", key, ErrNotFound)
	}
	body, _ := json.Marshal(text)
	c := comment{ID: strconv.FormatInt(s.nextComment, 10), Issue: r.ID, Text: text, Body: body,
		Created: s.opts.Now().Truncate(time.Millisecond), API: "2"}
	s.nextComment++
	s.comments[r.ID] = append(s.comments[r.ID], c)
	s.version++
	return nil
}
