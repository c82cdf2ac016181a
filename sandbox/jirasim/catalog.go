package jirasim

import (
	"strconv"
	"strings"
)

// fieldID numbers the issue fields the simulator renders; a fieldSet is a
// bit set over them.
type fieldID int

const (
	fSummary fieldID = iota
	fStatus
	fIssueType
	fAssignee
	fPriority
	fDueDate
	fUpdated
	fCreated
	fLabels
	fResolution
	fParent
	fDescription
	fProject
	fStartDate
	fPlannedCost
	fActualCost
	fLikelihood
	fImpact
	numFields
)

type fieldSet uint32

func (s fieldSet) has(f fieldID) bool { return s&(1<<f) != 0 }

const allFields = fieldSet(1<<numFields - 1)

// schema is Jira's JsonTypeBean.
type schema struct {
	Type     string
	Items    string
	System   string
	Custom   string // plugin type key of a custom field
	CustomID int
}

// fieldDef describes one field as /rest/api/x/field lists it.
type fieldDef struct {
	ID         string
	Name       string
	Custom     bool
	Schema     *schema
	Clauses    []string
	Orderable  bool
	Navigable  bool
	Searchable bool
	rendered   fieldID // -1 for list-only fields such as issuekey
}

// Custom field plugin keys, as Jira reports them in a field's schema.
const (
	pluginDate   = "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"
	pluginFloat  = "com.atlassian.jira.plugin.system.customfieldtypes:float"
	pluginSelect = "com.atlassian.jira.plugin.system.customfieldtypes:select"
)

// catalog is the flavor-specific metadata: field ids and option ids differ
// between a Cloud site and a Data Center instance, which is what forces a
// connector to resolve custom fields by name.
type catalog struct {
	fields   []fieldDef
	byID     map[string]*fieldDef // field id → definition
	rendered [numFields]*fieldDef
	// optionBase is the first option id of the Likelihood and Impact selects;
	// values "1".."5" get optionBase+0..4.
	likelihoodBase, impactBase int
}

func newCatalog(f Flavor) *catalog {
	startID, plannedID, actualID, likeID, impactID := 10015, 10050, 10051, 10052, 10053
	likeBase, impactBase := 10020, 10030
	if f == DataCenter {
		startID, plannedID, actualID, likeID, impactID = 10100, 10101, 10102, 10103, 10104
		likeBase, impactBase = 10300, 10310
	}
	sys := func(id, name, typ, items string, clauses []string, r fieldID) fieldDef {
		return fieldDef{
			ID: id, Name: name, Schema: &schema{Type: typ, Items: items, System: id},
			Clauses: clauses, Orderable: true, Navigable: true, Searchable: true, rendered: r,
		}
	}
	custom := func(id int, name, typ, plugin string, r fieldID) fieldDef {
		fid := "customfield_" + strconv.Itoa(id)
		return fieldDef{
			ID: fid, Name: name, Custom: true,
			Schema:    &schema{Type: typ, Custom: plugin, CustomID: id},
			Clauses:   []string{"cf[" + strconv.Itoa(id) + "]", name},
			Orderable: true, Navigable: true, Searchable: true, rendered: r,
		}
	}
	c := &catalog{
		fields: []fieldDef{
			sys("summary", "Summary", "string", "", []string{"summary"}, fSummary),
			sys("status", "Status", "status", "", []string{"status"}, fStatus),
			sys("issuetype", "Issue Type", "issuetype", "", []string{"issuetype", "type"}, fIssueType),
			sys("assignee", "Assignee", "user", "", []string{"assignee"}, fAssignee),
			sys("priority", "Priority", "priority", "", []string{"priority"}, fPriority),
			sys("duedate", "Due date", "date", "", []string{"due", "duedate"}, fDueDate),
			sys("updated", "Updated", "datetime", "", []string{"updated", "updatedDate"}, fUpdated),
			sys("created", "Created", "datetime", "", []string{"created", "createdDate"}, fCreated),
			sys("labels", "Labels", "array", "string", []string{"labels"}, fLabels),
			sys("resolution", "Resolution", "resolution", "", []string{"resolution"}, fResolution),
			{ID: "parent", Name: "Parent", Clauses: []string{"parent"}, Navigable: true, Searchable: true, rendered: fParent},
			sys("description", "Description", "string", "", []string{"description"}, fDescription),
			sys("project", "Project", "project", "", []string{"project"}, fProject),
			{
				ID: "issuekey", Name: "Key", Clauses: []string{"id", "issue", "issuekey", "key"},
				Navigable: true, rendered: -1,
			},
			custom(startID, "Start date", "date", pluginDate, fStartDate),
			custom(plannedID, "Planned Cost", "number", pluginFloat, fPlannedCost),
			custom(actualID, "Actual Cost", "number", pluginFloat, fActualCost),
			custom(likeID, "Likelihood", "option", pluginSelect, fLikelihood),
			custom(impactID, "Impact", "option", pluginSelect, fImpact),
		},
		byID:           map[string]*fieldDef{},
		likelihoodBase: likeBase,
		impactBase:     impactBase,
	}
	for i := range c.fields {
		d := &c.fields[i]
		c.byID[d.ID] = d
		if d.rendered >= 0 {
			c.rendered[d.rendered] = d
		}
	}
	return c
}

// selection is what a request's fields parameter asks for.
type selection struct {
	set    fieldSet
	idOnly bool // nothing but "id": issues render as {"id": "..."}
}

// selectFields interprets Jira's fields parameter: a comma-separated list,
// possibly repeated, of field ids, "*all", "*navigable", "id", "key" and
// "-field" exclusions. Unknown ids are ignored, as Jira does. def is used
// when nothing was sent.
func (c *catalog) selectFields(params []string, def string) selection {
	var toks []string
	for _, p := range params {
		for _, t := range strings.Split(p, ",") {
			if t = strings.TrimSpace(t); t != "" {
				toks = append(toks, t)
			}
		}
	}
	if len(toks) == 0 {
		toks = strings.Split(def, ",")
	}
	var sel selection
	var exclude fieldSet
	idOnly := true
	for _, t := range toks {
		if t != "id" {
			idOnly = false
		}
		switch {
		case t == "*all" || t == "*navigable":
			sel.set = allFields
		case strings.HasPrefix(t, "-"):
			if d, ok := c.byID[t[1:]]; ok && d.rendered >= 0 {
				exclude |= 1 << d.rendered
			}
		default:
			if d, ok := c.byID[t]; ok && d.rendered >= 0 {
				sel.set |= 1 << d.rendered
			}
		}
	}
	sel.set &^= exclude
	sel.idOnly = idOnly
	return sel
}

// Status categories as Jira defines them; the ids are Jira's.
type category struct {
	ID    int
	Key   string
	Name  string
	Color string
}

func categoryOf(key string) (category, bool) {
	switch key {
	case "undefined":
		return category{1, "undefined", "No Category", "medium-gray"}, true
	case "new":
		return category{2, "new", "To Do", "blue-gray"}, true
	case "done":
		return category{3, "done", "Done", "green"}, true
	case "indeterminate":
		return category{4, "indeterminate", "In Progress", "yellow"}, true
	}
	return category{}, false
}

// named is an entry of a registry: a status, issue type, priority,
// resolution or select option.
type named struct {
	ID       string
	Name     string
	Category string // statuses: category key
	Subtask  bool   // issue types
	Level    int    // issue types: hierarchy level (Cloud)
}

// registry holds the names an instance knows. JQL values are validated
// against it, so a status nobody uses yet is still a valid search term, as
// in a real instance whose workflow defines it.
type registry struct {
	byName  map[string]*named // exact spelling, the rendering fast path
	byLower map[string]*named
	next    int
}

func newRegistry(next int, entries ...named) *registry {
	r := &registry{byName: map[string]*named{}, byLower: map[string]*named{}, next: next}
	for i := range entries {
		e := entries[i]
		r.byName[e.Name] = &e
		r.byLower[strings.ToLower(e.Name)] = &e
	}
	return r
}

// get finds a name case-insensitively, as JQL does.
func (r *registry) get(name string) (*named, bool) {
	if n, ok := r.byName[name]; ok {
		return n, true
	}
	n, ok := r.byLower[strings.ToLower(name)]
	return n, ok
}

// known returns the entry of a name registered when its issue was stored;
// it never changes the registry, so readers may call it.
func (r *registry) known(name string) *named {
	if n, ok := r.get(name); ok {
		return n
	}
	return &named{ID: "0", Name: name}
}

// ensure returns the entry for name, registering it with the next free id.
func (r *registry) ensure(name string, init func(*named)) *named {
	if n, ok := r.get(name); ok {
		return n
	}
	n := &named{ID: strconv.Itoa(r.next), Name: name}
	r.next++
	if init != nil {
		init(n)
	}
	r.byName[name] = n
	r.byLower[strings.ToLower(name)] = n
	return n
}

// registries are the per-server name catalogs.
type registries struct {
	statuses, types, priorities, resolutions, likelihood, impact *registry
}

func newRegistries(c *catalog) registries {
	opts := func(base int) []named {
		out := make([]named, 5)
		for i := range out {
			out[i] = named{ID: strconv.Itoa(base + i), Name: strconv.Itoa(i + 1)}
		}
		return out
	}
	return registries{
		statuses: newRegistry(10100,
			named{ID: "10000", Name: "To Do", Category: "new"},
			named{ID: "3", Name: "In Progress", Category: "indeterminate"},
			named{ID: "10001", Name: "Done", Category: "done"},
			named{ID: "10002", Name: "Blocked", Category: "indeterminate"},
			named{ID: "10003", Name: "In Review", Category: "indeterminate"},
			named{ID: "10004", Name: "Backlog", Category: "new"},
		),
		types: newRegistry(10100,
			named{ID: "10000", Name: "Epic", Level: 1},
			named{ID: "10001", Name: "Task"},
			named{ID: "10002", Name: "Sub-task", Subtask: true, Level: -1},
			named{ID: "10003", Name: "Story"},
			named{ID: "10004", Name: "Bug"},
			named{ID: "10005", Name: "Milestone", Level: 1},
			named{ID: "10006", Name: "Risk"},
		),
		priorities: newRegistry(10000,
			named{ID: "1", Name: "Highest"},
			named{ID: "2", Name: "High"},
			named{ID: "3", Name: "Medium"},
			named{ID: "4", Name: "Low"},
			named{ID: "5", Name: "Lowest"},
		),
		resolutions: newRegistry(10100,
			named{ID: "10000", Name: "Done"},
			named{ID: "10001", Name: "Won't Do"},
			named{ID: "10002", Name: "Duplicate"},
			named{ID: "10003", Name: "Cannot Reproduce"},
			named{ID: "10004", Name: "Cancelled"},
		),
		likelihood: newRegistry(c.likelihoodBase+10, opts(c.likelihoodBase)...),
		impact:     newRegistry(c.impactBase+10, opts(c.impactBase)...),
	}
}
