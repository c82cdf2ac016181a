package engine

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/mapping"
)

// redactRollup applies the redaction rules of the mappings that feed a
// program to every text of its rollup before the rollup leaves pmsync.
// Items are redacted when they are mapped; this catches what was stored
// before a rule was added, and any text a rollup builds from item titles
// (health reasons, changes). It works on the rollup's JSON form, so that
// every string the document carries is covered, present and future keys
// alike: identifiers, dates and versions never match a rule.
func (e *Engine) redactRollup(r pmsync.Rollup) (pmsync.Rollup, error) {
	sets := e.programSets(r.ID)
	if len(sets) == 0 {
		return r, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("redact rollup %s: %w", r.ID, err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return r, fmt.Errorf("redact rollup %s: %w", r.ID, err)
	}
	if !redactJSON(&doc, sets) {
		return r, nil
	}
	if b, err = json.Marshal(doc); err != nil {
		return r, fmt.Errorf("redact rollup %s: %w", r.ID, err)
	}
	var out pmsync.Rollup
	if err := json.Unmarshal(b, &out); err != nil {
		return r, fmt.Errorf("redact rollup %s: %w", r.ID, err)
	}
	return out, nil
}

// programSets returns the compiled mappings of a program's sources that
// redact anything, each once.
func (e *Engine) programSets(program string) []*mapping.Set {
	var sets []*mapping.Set
	for _, s := range e.cfg.Sources() {
		if s.Program != program {
			continue
		}
		set := e.cfg.Mapping(s.Mapping)
		if set == nil || len(set.Redactions()) == 0 || slices.Contains(sets, set) {
			continue
		}
		sets = append(sets, set)
	}
	return sets
}

// redactJSON redacts every string value in a decoded JSON document in
// place and reports whether any changed. Keys are left alone.
func redactJSON(v *any, sets []*mapping.Set) bool {
	changed := false
	switch c := (*v).(type) {
	case string:
		s := c
		for _, set := range sets {
			s = set.Redact(s)
		}
		if s != c {
			*v, changed = s, true
		}
	case []any:
		for i := range c {
			if redactJSON(&c[i], sets) {
				changed = true
			}
		}
	case map[string]any:
		for k, e := range c {
			if redactJSON(&e, sets) {
				c[k], changed = e, true
			}
		}
	}
	return changed
}
