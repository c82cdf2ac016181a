package mapping

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/pmsync/pmsync"
)

// Map maps one record to an item, its free text redacted by the set's
// redaction rules. A record that cannot be mapped yields a *FieldError
// naming the first field that failed (its value redacted too).
func (s *Set) Map(rec pmsync.Record) (pmsync.Item, error) {
	return s.mapRecord(&rec, nil, nil)
}

// Explain maps like Map and also lists the raw values that a rule's `map`
// did not hold (and that so fell to its default or passed through), for
// probing a source before trusting a mapping. The misses are returned even
// when mapping fails, since an unmapped value is often why.
func (s *Set) Explain(rec pmsync.Record) (pmsync.Item, []Miss, error) {
	it, ex, err := s.Probe(rec)
	return it, ex.Misses, err
}

// Explanation is what Probe learns about one record besides its item.
type Explanation struct {
	// Misses are the raw values a rule's map did not hold (see Explain).
	Misses []Miss
	// Redacted counts, per redaction rule, the values of the item the rule
	// changed (a title with two phone numbers counts once).
	Redacted map[string]int
}

// Probe maps like Map and explains the result: the values maps did not
// hold and what redaction changed.
func (s *Set) Probe(rec pmsync.Record) (pmsync.Item, Explanation, error) {
	ex := Explanation{Misses: []Miss{}, Redacted: map[string]int{}}
	it, err := s.mapRecord(&rec, &ex.Misses, ex.Redacted)
	return it, ex, err
}

// evaluation is the per-record scratch space, pooled per Set so that mapping
// a page of records does not allocate an env map and a VM for each.
type evaluation struct {
	set    *Set
	rec    *pmsync.Record
	env    map[string]any
	envSet bool
	record map[string]any
	recSet bool
	vm     vm.VM
	misses *[]Miss
}

func (s *Set) mapRecord(rec *pmsync.Record, misses *[]Miss, redacted map[string]int) (pmsync.Item, error) {
	switch {
	case rec.Source == "":
		return pmsync.Item{}, &FieldError{Field: "source", Err: errors.New("the record has no source")}
	case rec.ExternalID == "":
		return pmsync.Item{}, &FieldError{Field: "external_id", Err: errors.New("the record has no external id")}
	}
	it := pmsync.Item{
		Source:     rec.Source,
		ExternalID: rec.ExternalID,
		URL:        rec.URL,
		UpdatedAt:  rec.UpdatedAt.UTC(),
	}
	ev := s.scratch.Get().(*evaluation)
	ev.rec, ev.misses = rec, misses
	defer ev.release()

	for _, r := range s.rules {
		if err := r.run(ev, &it); err != nil {
			return pmsync.Item{}, s.redactError(err)
		}
	}
	for _, r := range s.fields {
		if err := r.run(ev, &it); err != nil {
			return pmsync.Item{}, s.redactError(err)
		}
	}
	s.redactItem(&it, redacted)
	// The conversions above enforce every invariant Validate checks; this is
	// the backstop that keeps an invalid item from ever reaching the store.
	if err := it.Validate(); err != nil {
		return pmsync.Item{}, &FieldError{Field: "item", Err: err}
	}
	return it, nil
}

// redactError redacts the value a *FieldError quotes: the error becomes a
// quarantine reason, which is stored like an item.
func (s *Set) redactError(err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Value != "" {
		fe.Value = s.Redact(fe.Value)
	}
	// An expression's own message may quote the data it failed on.
	if fe.Err != nil {
		if msg := fe.Err.Error(); s.Redact(msg) != msg {
			fe.Err = errors.New(s.Redact(msg))
		}
	}
	return err
}

// release drops the references to the record and returns ev to the pool.
func (ev *evaluation) release() {
	if ev.envSet && ev.env != nil {
		clear(ev.env)
	}
	if ev.record != nil {
		clear(ev.record)
	}
	ev.rec, ev.misses, ev.envSet, ev.recSet = nil, nil, false, false
	ev.set.scratch.Put(ev)
}

// recordValues returns the `record` object: {id, source, url, updated_at}.
func (ev *evaluation) recordValues() map[string]any {
	if ev.recSet {
		return ev.record
	}
	if ev.record == nil {
		ev.record = make(map[string]any, 4)
	}
	ev.record["id"] = ev.rec.ExternalID
	ev.record["source"] = ev.rec.Source
	ev.record["url"] = ev.rec.URL
	if ev.rec.UpdatedAt.IsZero() {
		ev.record["updated_at"] = nil
	} else {
		ev.record["updated_at"] = ev.rec.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	ev.recSet = true
	return ev.record
}

// walkRecord walks a path that starts at `record`. The common
// `record.source` and `record.id` are answered without building the object.
func (ev *evaluation) walkRecord(p path) any {
	if len(p) > 0 && !p[0].isIndex {
		switch p[0].key {
		case "id":
			return p[1:].walk(ev.rec.ExternalID)
		case "source":
			return p[1:].walk(ev.rec.Source)
		case "url":
			return p[1:].walk(ev.rec.URL)
		}
	}
	return p.walk(ev.recordValues())
}

// envMap returns the expression env: the record's data at the top level,
// plus `record` when some expression reads it. Without `record` the data
// map itself serves, since expressions only read it.
func (ev *evaluation) envMap() map[string]any {
	if !ev.set.exprRecord {
		if ev.rec.Data == nil {
			return map[string]any{}
		}
		return ev.rec.Data
	}
	if !ev.envSet {
		if ev.env == nil {
			ev.env = make(map[string]any, len(ev.rec.Data)+1)
		}
		for k, v := range ev.rec.Data {
			ev.env[k] = v
		}
		ev.env["record"] = ev.recordValues()
		ev.envSet = true
	}
	return ev.env
}

// run evaluates the rule for the record in ev and stores the result in it.
func (r *rule) run(ev *evaluation, it *pmsync.Item) error {
	var v any
	switch r.src {
	case srcPath:
		if r.fromRecord {
			v = ev.walkRecord(r.path)
		} else {
			v = r.path.walk(ev.rec.Data)
		}
	case srcExpr:
		out, err := ev.vm.Run(r.prog, ev.envMap())
		if err != nil {
			return &FieldError{Field: r.field, Err: fmt.Errorf("evaluating expr: %w", oneLine(err))}
		}
		v = out
	case srcValue:
		v = r.value
	}
	if r.hasMap && !isEmpty(v) {
		key, ok := textOf(v)
		if !ok {
			return &FieldError{Field: r.field, Value: show(v), Err: errors.New("is not a single value, so map cannot apply")}
		}
		if m, found := r.lookup(key); found {
			v = m
		} else if r.alreadyValid(key) {
			// `state: {expr: '... ? "blocked" : category', map: {new: todo, ...}}`
			// must keep "blocked": a value that is already a state needs
			// no mapping, and falling to the default would undo the expr.
		} else {
			if ev.misses != nil {
				*ev.misses = append(*ev.misses, Miss{Field: r.field, Value: key, Defaulted: r.def != ""})
			}
			if r.def != "" {
				v = r.def
			}
		}
	}
	if r.def != "" && isEmpty(v) {
		v = r.def
	}
	if r.required && isEmpty(v) {
		return &FieldError{Field: r.field, Err: errors.New("no value, and the rule is required")}
	}
	if err := r.apply(it, v); err != nil {
		fe := &FieldError{Field: r.field, Err: err}
		if !isEmpty(v) {
			fe.Value = show(v)
		}
		return fe
	}
	return nil
}

// alreadyValid reports whether key is a kind or state as it stands, for
// the targets that have a fixed vocabulary.
func (r *rule) alreadyValid(key string) bool {
	switch r.target {
	case tKind:
		_, err := toKind(key)
		return err == nil
	case tState:
		_, err := toState(key)
		return err == nil
	}
	return false
}

// lookup finds key in the rule's map: exactly first, then ignoring case and
// surrounding spaces.
func (r *rule) lookup(key string) (string, bool) {
	if v, ok := r.exact[key]; ok {
		return v, true
	}
	v, ok := r.folded[strings.ToLower(strings.TrimSpace(key))]
	return v, ok
}

// apply converts v for the rule's target and stores it in it. Empty values
// leave optional fields unset; url and updated_at keep the record's own.
func (r *rule) apply(it *pmsync.Item, v any) error {
	switch r.target {
	case tKind:
		k, err := toKind(v)
		it.Kind = k
		return err
	case tState:
		st, err := toState(v)
		it.State = st
		return err
	case tTitle:
		s, err := toText(v)
		if err == nil && s == "" {
			err = errors.New("no value: every item needs a title")
		}
		it.Title = s
		return err
	case tURL, tOwner, tPriority, tStatus, tMilestone, tParent:
		s, err := toText(v)
		if err != nil {
			return err
		}
		r.setText(it, s)
	case tStart, tDue:
		d, err := toDate(v, r.format)
		if err != nil {
			return err
		}
		if r.target == tStart {
			it.Start = d
		} else {
			it.Due = d
		}
	case tDoneAt, tUpdatedAt:
		t, err := toTime(v, r.format)
		if err != nil {
			return err
		}
		if r.target == tDoneAt {
			it.DoneAt = t
		} else if !t.IsZero() {
			it.UpdatedAt = t
		}
	case tPercentComplete, tPlannedCost, tActualCost:
		f, err := toNumber(v, r.scale)
		if err != nil {
			return err
		}
		switch r.target {
		case tPercentComplete:
			if f != nil && (*f < 0 || *f > 100) {
				if r.scale != 0 {
					return fmt.Errorf("is %s after scale %s, outside 0..100", formatFloat(*f), formatFloat(r.scale))
				}
				return errors.New("is outside 0..100")
			}
			it.PercentComplete = f
		case tPlannedCost:
			it.PlannedCost = f
		default:
			it.ActualCost = f
		}
	case tLikelihood, tImpact:
		n, err := toScore(v)
		if err != nil {
			return err
		}
		if r.target == tLikelihood {
			it.Likelihood = n
		} else {
			it.Impact = n
		}
	case tLabels:
		l, err := toLabels(v)
		if err != nil {
			return err
		}
		it.Labels = l
	case tField:
		fv, err := toField(v, r.scale)
		if err != nil {
			return err
		}
		if fv == nil {
			return nil
		}
		if it.Fields == nil {
			it.Fields = make(map[string]any)
		}
		it.Fields[r.name] = fv
	}
	return nil
}

func (r *rule) setText(it *pmsync.Item, s string) {
	switch r.target {
	case tURL:
		if s != "" {
			it.URL = s
		}
	case tOwner:
		it.Owner = s
	case tPriority:
		it.Priority = s
	case tStatus:
		it.Status = s
	case tMilestone:
		it.Milestone = s
	case tParent:
		it.Parent = s
	}
}
