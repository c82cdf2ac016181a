package asanasim

import (
	"fmt"
	"maps"
	"slices"
)

// AddProject creates a project with its custom fields and returns its gid.
func (s *Server) AddProject(name string, fields ...CustomField) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &project{gid: s.nextGID(), name: name, fieldGID: map[string]string{}, optGID: map[string]map[string]string{}}
	for _, f := range fields {
		p.fields = append(p.fields, f)
		p.fieldGID[f.Name] = s.nextGID()
		p.optGID[f.Name] = map[string]string{}
		for _, o := range f.Options {
			p.optGID[f.Name][o] = s.nextGID()
		}
	}
	s.projects[p.gid] = p
	s.order = append(s.order, p.gid)
	return p.gid
}

// Projects returns the gids of all projects, oldest first.
func (s *Server) Projects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// AddTask adds a task to a project and returns its gid. The section is
// created when the project does not have it yet; custom values must match
// the project's fields. CreatedAt and ModifiedAt default to the fake's
// clock.
func (s *Server) AddTask(projectGID string, t Task) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectGID]
	if !ok {
		return "", fmt.Errorf("asanasim: add task: no project %s", projectGID)
	}
	if err := p.checkCustom(t.Custom); err != nil {
		return "", fmt.Errorf("asanasim: add task %q: %w", t.Name, err)
	}
	if t.Parent != "" && s.tasks[t.Parent] == nil {
		return "", fmt.Errorf("asanasim: add task %q: no parent task %s", t.Name, t.Parent)
	}
	if t.GID == "" {
		t.GID = s.nextGID()
	} else if _, dup := s.tasks[t.GID]; dup {
		return "", fmt.Errorf("asanasim: add task: gid %s exists", t.GID)
	}
	now := s.now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.ModifiedAt.IsZero() {
		t.ModifiedAt = now
	}
	t.Project = p.gid
	t.Custom = maps.Clone(t.Custom)
	s.ensureSection(p, t.Section)
	s.tasks[t.GID] = &t
	p.add(t.GID)
	if t.Parent != "" {
		s.children[t.Parent]++
	}
	s.emit(p, event{action: "added", task: t.GID, name: t.Name, parent: p.gid, created: now})
	return t.GID, nil
}

func (s *Server) ensureSection(p *project, name string) {
	if name != "" && p.sectionGID(name) == "" {
		p.sections = append(p.sections, section{gid: s.nextGID(), name: name})
	}
}

func (s *Server) emit(p *project, e event) {
	s.eventSeq++
	e.sequence = s.eventSeq
	p.events = append(p.events, e)
}

// UpdateTask changes a task through fn and stamps it modified now, as
// Asana does for any property change. GID and Project cannot be changed.
func (s *Server) UpdateTask(gid string, fn func(*Task)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[gid]
	if !ok {
		return fmt.Errorf("asanasim: update task: no task %s", gid)
	}
	c := *t
	c.Custom = maps.Clone(t.Custom)
	fn(&c)
	c.GID, c.Project = t.GID, t.Project
	if p, ok := s.projects[c.Project]; ok {
		if err := p.checkCustom(c.Custom); err != nil {
			return fmt.Errorf("asanasim: update task %s: %w", gid, err)
		}
		s.ensureSection(p, c.Section)
	}
	c.ModifiedAt = s.now()
	if c.Parent != t.Parent {
		if c.Parent != "" && s.tasks[c.Parent] == nil {
			return fmt.Errorf("asanasim: update task %s: no parent task %s", gid, c.Parent)
		}
		s.children[t.Parent]--
		s.children[c.Parent]++
	}
	*t = c
	if p, ok := s.projects[t.Project]; ok {
		s.emit(p, event{action: "changed", task: gid, name: t.Name, field: "modified_at", created: c.ModifiedAt})
	}
	return nil
}

// DeleteTask deletes a task; its project's event stream reports it.
func (s *Server) DeleteTask(gid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[gid]
	if !ok {
		return fmt.Errorf("asanasim: delete task: no task %s", gid)
	}
	delete(s.tasks, gid)
	if t.Parent != "" {
		s.children[t.Parent]--
	}
	if p, ok := s.projects[t.Project]; ok {
		p.remove(gid)
		s.emit(p, event{action: "deleted", task: gid, name: t.Name, created: s.now()})
	}
	return nil
}

// RemoveFromProject takes a task out of its project without deleting it;
// the project's event stream reports a "removed" event.
func (s *Server) RemoveFromProject(gid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[gid]
	if !ok {
		return fmt.Errorf("asanasim: remove task: no task %s", gid)
	}
	p, ok := s.projects[t.Project]
	if !ok {
		return fmt.Errorf("asanasim: remove task: task %s is in no project", gid)
	}
	t.Project = ""
	p.remove(gid)
	t.ModifiedAt = s.now()
	s.emit(p, event{action: "removed", task: gid, name: t.Name, parent: p.gid, created: t.ModifiedAt})
	return nil
}

func (p *project) add(gid string) {
	if i, found := slices.BinarySearch(p.tasks, gid); !found {
		p.tasks = slices.Insert(p.tasks, i, gid)
	}
}

func (p *project) remove(gid string) {
	if i, found := slices.BinarySearch(p.tasks, gid); found {
		p.tasks = slices.Delete(p.tasks, i, i+1)
	}
}

// Task returns a copy of a stored task.
func (s *Server) Task(gid string) (Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[gid]
	if !ok {
		return Task{}, false
	}
	c := *t
	c.Custom = maps.Clone(t.Custom)
	return c, true
}

// Tasks returns copies of a project's tasks in project order.
func (s *Server) Tasks(projectGID string) []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectGID]
	if !ok {
		return nil
	}
	out := make([]Task, 0, len(p.tasks))
	for _, g := range p.tasks {
		c := *s.tasks[g]
		c.Custom = maps.Clone(c.Custom)
		out = append(out, c)
	}
	return out
}

// StatusUpdates returns the status updates posted on a project, oldest
// first.
func (s *Server) StatusUpdates(projectGID string) []StatusUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StatusUpdate
	for _, u := range s.updates {
		if u.Parent == projectGID {
			out = append(out, *u)
		}
	}
	return out
}

// AddStatusUpdate stores a status update as if someone had posted it (a
// person, or an earlier push) and returns its gid; CreatedAt defaults to
// the fake's clock. Updates are listed newest first by their order of
// addition, so add them oldest first.
func (s *Server) AddStatusUpdate(u StatusUpdate) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projects[u.Parent] == nil {
		return "", fmt.Errorf("asanasim: add status update: no project %s", u.Parent)
	}
	if u.StatusType == "" {
		u.StatusType = "on_track"
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	u.GID = s.nextGID()
	s.updates = append(s.updates, &u)
	return u.GID, nil
}
