package asanasim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The custom field types the fake knows, as Asana names them in
// resource_subtype.
const (
	TypeNumber    = "number"
	TypeEnum      = "enum"
	TypeMultiEnum = "multi_enum"
	TypeText      = "text"
	TypeDate      = "date"
	TypePeople    = "people"
)

// CustomField defines a custom field of a project.
type CustomField struct {
	Name      string
	Type      string   // one of the Type* constants
	Options   []string // enum and multi_enum option names
	Precision int      // number fields: decimal places shown in display_value
	// Format is a number field's format: "" (Asana's "none"), "percentage"
	// (the value is stored as a fraction, 0.25 for 25%, and Precision
	// counts the decimals of the percentage), "currency", "custom".
	Format string
}

// Task is a task as the fake stores it. Zero values mean "unset" (null in
// JSON). Values of Custom are keyed by field name: float64 for number, the
// option name for enum, []string of option names for multi_enum, string for
// text, "YYYY-MM-DD" for date, []string of user names for people.
type Task struct {
	GID         string
	Name        string
	Subtype     string // "default_task" when empty, or "milestone", "approval"
	Completed   bool
	CompletedAt time.Time
	DueOn       string // YYYY-MM-DD
	DueAt       time.Time
	StartOn     string // YYYY-MM-DD
	Assignee    string // user name; "" is unassigned
	Section     string // section name in the task's project
	Parent      string // parent task gid
	// Notes is stored so that tests can prove it is never sent unless asked.
	Notes      string
	Custom     map[string]any
	CreatedAt  time.Time
	ModifiedAt time.Time
	// Project is the gid of the project the task belongs to; "" once the
	// task was removed from it. Read-only: set by AddTask.
	Project string
}

// StatusUpdate is a status update posted on a project.
type StatusUpdate struct {
	GID        string
	Parent     string
	StatusType string
	Title      string
	Text       string
	CreatedAt  time.Time
}

type project struct {
	gid      string
	name     string
	fields   []CustomField
	fieldGID map[string]string            // field name → gid
	optGID   map[string]map[string]string // field name → option name → gid
	sections []section
	events   []event
	tasks    []string // gids of the project's tasks, ascending (project order)
}

type section struct{ gid, name string }

type event struct {
	action   string // added, changed, removed, deleted, undeleted
	task     string
	name     string
	parent   string // project gid for added/removed
	field    string // changed field, for "changed"
	created  time.Time
	sequence int
}

type user struct{ gid, name string }

func (p *project) sectionGID(name string) string {
	for _, s := range p.sections {
		if s.name == name {
			return s.gid
		}
	}
	return ""
}

func (p *project) field(name string) (CustomField, bool) {
	for _, f := range p.fields {
		if f.Name == name {
			return f, true
		}
	}
	return CustomField{}, false
}

// checkCustom verifies that every custom value names a field of the project
// and has the Go type its field type needs.
func (p *project) checkCustom(values map[string]any) error {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		v := values[name]
		f, ok := p.field(name)
		if !ok {
			return fmt.Errorf("custom field %q is not defined on project %s", name, p.gid)
		}
		if v == nil {
			continue
		}
		var ok2 bool
		switch f.Type {
		case TypeNumber:
			_, ok2 = v.(float64)
		case TypeEnum:
			var s string
			if s, ok2 = v.(string); ok2 && !slices.Contains(f.Options, s) {
				return fmt.Errorf("custom field %q has no option %q", name, s)
			}
		case TypeMultiEnum:
			var ss []string
			if ss, ok2 = v.([]string); ok2 {
				for _, s := range ss {
					if !slices.Contains(f.Options, s) {
						return fmt.Errorf("custom field %q has no option %q", name, s)
					}
				}
			}
		case TypeText:
			_, ok2 = v.(string)
		case TypeDate:
			var s string
			if s, ok2 = v.(string); ok2 {
				if _, err := time.Parse(time.DateOnly, s); err != nil {
					return fmt.Errorf("custom field %q: date %q is not YYYY-MM-DD", name, s)
				}
			}
		case TypePeople:
			_, ok2 = v.([]string)
		default:
			return fmt.Errorf("custom field %q has unknown type %q", name, f.Type)
		}
		if !ok2 {
			return fmt.Errorf("custom field %q of type %s cannot hold %T", name, f.Type, v)
		}
	}
	return nil
}

// timeJSON formats a time the way Asana does: UTC with milliseconds.
func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// full returns the complete JSON form of a task; handlers project it down to
// what opt_fields asks for.
func (s *Server) full(t *Task) map[string]any {
	subtype := t.Subtype
	if subtype == "" {
		subtype = "default_task"
	}
	m := map[string]any{
		"gid":              t.GID,
		"resource_type":    "task",
		"name":             t.Name,
		"resource_subtype": subtype,
		"completed":        t.Completed,
		"completed_at":     timeJSON(t.CompletedAt),
		"due_on":           strOrNil(t.DueOn),
		"due_at":           timeJSON(t.DueAt),
		"start_on":         strOrNil(t.StartOn),
		"start_at":         nil,
		"created_at":       timeJSON(t.CreatedAt),
		"modified_at":      timeJSON(t.ModifiedAt),
		"notes":            t.Notes,
		"html_notes":       "<body>" + t.Notes + "</body>",
		"assignee":         nil,
		"parent":           nil,
		"memberships":      []any{},
		"projects":         []any{},
		"custom_fields":    []any{},
		"tags":             []any{},
		"num_subtasks":     0,
		"workspace":        map[string]any{"gid": s.workspace, "resource_type": "workspace", "name": "Riverside Health"},
		"permalink_url":    "https://app.asana.com/0/" + cmpOr(t.Project, "0") + "/" + t.GID,
	}
	if t.Assignee != "" {
		u := s.user(t.Assignee)
		m["assignee"] = map[string]any{"gid": u.gid, "resource_type": "user", "name": u.name}
	}
	if pt, ok := s.tasks[t.Parent]; ok {
		m["parent"] = map[string]any{"gid": pt.GID, "resource_type": "task", "name": pt.Name, "resource_subtype": cmpOr(pt.Subtype, "default_task")}
	}
	m["num_subtasks"] = s.children[t.GID]
	p, ok := s.projects[t.Project]
	if !ok {
		return m
	}
	pc := map[string]any{"gid": p.gid, "resource_type": "project", "name": p.name}
	m["projects"] = []any{pc}
	ms := map[string]any{"project": pc}
	if gid := p.sectionGID(t.Section); gid != "" {
		ms["section"] = map[string]any{"gid": gid, "resource_type": "section", "name": t.Section}
	}
	m["memberships"] = []any{ms}
	cfs := make([]any, 0, len(p.fields))
	for _, f := range p.fields {
		cfs = append(cfs, s.customJSON(p, f, t.Custom[f.Name]))
	}
	m["custom_fields"] = cfs
	return m
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// customJSON renders one custom field value with the value key of its type
// only, as Asana does, plus display_value.
func (s *Server) customJSON(p *project, f CustomField, v any) map[string]any {
	m := map[string]any{
		"gid":                 p.fieldGID[f.Name],
		"resource_type":       "custom_field",
		"name":                f.Name,
		"type":                f.Type,
		"resource_subtype":    f.Type,
		"representation_type": f.Type,
		"enabled":             true,
		"display_value":       nil,
	}
	option := func(name string) map[string]any {
		return map[string]any{"gid": p.optGID[f.Name][name], "resource_type": "enum_option", "name": name, "enabled": true, "color": "none"}
	}
	switch f.Type {
	case TypeNumber:
		m["precision"] = f.Precision
		m["format"] = cmpOr(f.Format, "none")
		m["number_value"] = nil
		if x, ok := v.(float64); ok {
			m["number_value"] = x
			if f.Format == "percentage" {
				m["display_value"] = fmt.Sprintf("%.*f%%", f.Precision, x*100)
			} else {
				m["display_value"] = fmt.Sprintf("%.*f", f.Precision, x)
			}
		}
	case TypeEnum:
		m["enum_value"] = nil
		if x, ok := v.(string); ok {
			m["enum_value"] = option(x)
			m["display_value"] = x
		}
	case TypeMultiEnum:
		vals := []any{}
		x, _ := v.([]string)
		for _, name := range x {
			vals = append(vals, option(name))
		}
		m["multi_enum_values"] = vals
		if len(x) > 0 {
			m["display_value"] = strings.Join(x, ", ")
		}
	case TypeText:
		m["text_value"] = nil
		if x, ok := v.(string); ok {
			m["text_value"] = x
			m["display_value"] = x
		}
	case TypeDate:
		m["date_value"] = nil
		if x, ok := v.(string); ok {
			m["date_value"] = map[string]any{"date": x, "date_time": nil}
			m["display_value"] = x
		}
	case TypePeople:
		vals := []any{}
		x, _ := v.([]string)
		for _, name := range x {
			u := s.user(name)
			vals = append(vals, map[string]any{"gid": u.gid, "resource_type": "user", "name": u.name})
		}
		m["people_value"] = vals
		if len(x) > 0 {
			m["display_value"] = strings.Join(x, ", ")
		}
	}
	return m
}

func statusJSON(u *StatusUpdate) map[string]any {
	return map[string]any{
		"gid":              u.GID,
		"resource_type":    "status_update",
		"resource_subtype": "project_status_update",
		"title":            u.Title,
		"text":             u.Text,
		"html_text":        "<body>" + u.Text + "</body>",
		"status_type":      u.StatusType,
		"created_at":       timeJSON(u.CreatedAt),
		"modified_at":      timeJSON(u.CreatedAt),
		"parent":           map[string]any{"gid": u.Parent, "resource_type": "project"},
		"author":           map[string]any{"gid": "1000000000000001", "resource_type": "user", "name": "PMO Integration"},
	}
}

// project keeps what opt_fields names, always with gid and resource_type,
// the way Asana expands dotted paths: "assignee.name" gives
// {"gid", "resource_type", "name"}; a bare name of an object or a list of
// objects gives the whole value.
func projectFields(full map[string]any, optFields []string) map[string]any {
	out := map[string]any{}
	copyKey(out, full, "gid")
	copyKey(out, full, "resource_type")
	for _, f := range optFields {
		include(out, full, strings.Split(f, "."))
	}
	return out
}

func copyKey(dst, src map[string]any, k string) {
	if v, ok := src[k]; ok {
		dst[k] = v
	}
}

func include(dst, src map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		sub, _ := dst[path[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			copyKey(sub, x, "gid")
			copyKey(sub, x, "resource_type")
			dst[path[0]] = sub
		}
		include(sub, x, path[1:])
	case []any:
		prev, _ := dst[path[0]].([]any)
		list := make([]any, len(x))
		for i, el := range x {
			em, ok := el.(map[string]any)
			if !ok {
				list[i] = el
				continue
			}
			var sub map[string]any
			if i < len(prev) {
				sub, _ = prev[i].(map[string]any)
			}
			if sub == nil {
				sub = map[string]any{}
				copyKey(sub, em, "gid")
				copyKey(sub, em, "resource_type")
			}
			include(sub, em, path[1:])
			list[i] = sub
		}
		dst[path[0]] = list
	default:
		// A dotted path into a scalar or null yields the value itself, as
		// Asana answers null for "assignee.name" on an unassigned task.
		dst[path[0]] = v
	}
}
