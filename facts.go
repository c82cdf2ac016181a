package pmsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Facts is the compact form of items that a rollup is computed from: what
// its figures read of every item, without the strings that only a listing
// needs, except for the open milestones and risks that a rollup names.
// FactsOf makes it from items; a store keeps one per source between
// rollups, so that a rollup of many items neither reads nor holds every
// item whole.
type Facts struct {
	// Rows holds one fact per item, in the order of the items.
	Rows []Fact
	// Details holds the descriptive fields of the live, open milestones
	// and risks; Fact.Detail indexes it.
	Details []Detail
}

// Fact is one item as the rollup's figures read it.
type Fact struct {
	Source     string
	ExternalID string
	Kind       Kind
	State      State
	Flags      FactFlags
	// Likelihood and Impact are a risk's (0 when unset).
	Likelihood, Impact int8
	// Milestone is the index in Rows of the milestone a task counts
	// toward: the item of the same source whose external id is the task's
	// Milestone. It is -1 for a task that names none, or names an item the
	// facts do not hold, and for every milestone and risk.
	Milestone int32
	// Detail is the index in Details of the item's descriptive fields, -1
	// for every item but a live milestone or risk that is neither done nor
	// cancelled.
	Detail int32
	// Planned and Actual are the costs (FactPlanned and FactActual say
	// whether they are set).
	Planned, Actual float64
	// DoneAt is when a done item was done, in Unix seconds (FactDoneAt
	// says whether the mapping gave a time): a rollup only reads its
	// calendar date.
	DoneAt int64
}

// FactFlags say which of a fact's optional values are set.
type FactFlags uint8

// The fact flags.
const (
	FactDeleted FactFlags = 1 << iota // the item is a tombstone
	FactPlanned                       // Planned is set
	FactActual                        // Actual is set
	FactDoneAt                        // DoneAt is set (done items only)
)

// Deleted reports whether the item is a tombstone.
func (f *Fact) Deleted() bool { return f.Flags&FactDeleted != 0 }

// Detail is what a rollup lists of an open milestone or risk.
type Detail struct {
	Title, URL, Owner string
	Start, Due        Date
	// Baseline is the mapped baseline due date (fields.baseline_due) when
	// it is a date; "" otherwise.
	Baseline Date
	// Percent is the item's percent complete; HasPercent says whether it
	// has one.
	Percent    float64
	HasPercent bool
}

// FactsOf makes the facts of items, in their order. Items are unique by
// source and external id, as a store keeps them; a task counts toward a
// milestone of its own source only.
func FactsOf(items []Item) Facts {
	var b FactsBuilder
	b.Grow(len(items))
	for i := range items {
		b.Add(&items[i])
	}
	return b.Facts()
}

// FactsBuilder makes Facts from items one at a time, keeping nothing of an
// item but its fact (a store reads items row by row into it). The zero
// value is ready to use.
type FactsBuilder struct {
	f      Facts
	byKey  map[itemKey]int32 // the milestones seen so far
	refers []int32           // tasks whose milestone is not resolved yet
	names  []string          // their milestone's external id, by position in refers
}

// Grow makes room for n more items.
func (b *FactsBuilder) Grow(n int) {
	if b.f.Rows == nil {
		b.f.Rows = make([]Fact, 0, n)
	}
}

// Add adds the fact of one item. Only the fields a rollup reads are kept;
// the strings of the ones it keeps are shared with the item.
func (b *FactsBuilder) Add(it *Item) {
	idx := int32(len(b.f.Rows))
	f := Fact{Source: it.Source, ExternalID: it.ExternalID, Kind: it.Kind, State: it.State, Milestone: -1, Detail: -1,
		Likelihood: int8(it.Likelihood), Impact: int8(it.Impact)}
	if it.Deleted() {
		f.Flags |= FactDeleted
	}
	if it.PlannedCost != nil {
		f.Flags |= FactPlanned
		f.Planned = *it.PlannedCost
	}
	if it.ActualCost != nil {
		f.Flags |= FactActual
		f.Actual = *it.ActualCost
	}
	if it.State == StateDone && !it.DoneAt.IsZero() {
		f.Flags |= FactDoneAt
		f.DoneAt = it.DoneAt.Unix()
	}
	switch it.Kind {
	case KindMilestone:
		if b.byKey == nil {
			b.byKey = map[itemKey]int32{}
		}
		if _, dup := b.byKey[itemKey{it.Source, it.ExternalID}]; !dup {
			b.byKey[itemKey{it.Source, it.ExternalID}] = idx
		}
	case KindTask:
		if it.Milestone != "" {
			b.refers = append(b.refers, idx)
			b.names = append(b.names, it.Milestone)
		}
	}
	if (it.Kind == KindMilestone || it.Kind == KindRisk) && !f.Deleted() && !it.State.Closed() {
		d := Detail{Title: it.Title, URL: it.URL, Owner: it.Owner, Start: it.Start, Due: it.Due}
		if it.PercentComplete != nil {
			d.Percent, d.HasPercent = *it.PercentComplete, true
		}
		if v, ok := it.Fields[BaselineField]; ok {
			if text, ok := v.(string); ok {
				if day, err := ParseDate(text); err == nil {
					d.Baseline = day
				}
			}
		}
		f.Detail = int32(len(b.f.Details))
		b.f.Details = append(b.f.Details, d)
	}
	b.f.Rows = append(b.f.Rows, f)
}

// Facts resolves which milestone each task counts toward and returns the
// facts. The builder is empty afterwards.
func (b *FactsBuilder) Facts() Facts {
	for i, idx := range b.refers {
		task := &b.f.Rows[idx]
		if m, ok := b.byKey[itemKey{task.Source, b.names[i]}]; ok {
			task.Milestone = m
		}
	}
	f := b.f
	if len(f.Rows) == 0 {
		f.Rows = nil // as decoded facts have it
	}
	*b = FactsBuilder{}
	return f
}

// Append adds g's facts after f's. A task of g counts toward a milestone
// of g only, as FactsOf of the two item lists apart would have it.
func (f *Facts) Append(g Facts) {
	if len(f.Rows) == 0 && len(f.Details) == 0 {
		*f = g // a program's first (often only) source: nothing to renumber
		return
	}
	rows, details := int32(len(f.Rows)), int32(len(f.Details))
	if f.Rows == nil {
		f.Rows = make([]Fact, 0, len(g.Rows))
	}
	for _, r := range g.Rows {
		if r.Milestone >= 0 {
			r.Milestone += rows
		}
		if r.Detail >= 0 {
			r.Detail += details
		}
		f.Rows = append(f.Rows, r)
	}
	f.Details = append(f.Details, g.Details...)
}

// factsMagic starts the binary form of Facts; its last byte is the format
// version, so that a store discards facts an older build kept. It must
// change whenever the form, or what FactsOf keeps of an item, changes.
const factsMagic = "PMF\x01"

// kindCodes and stateCodes give kinds and states their one-byte codes in
// the binary form: the index.
func kindCodes() [3]Kind { return [...]Kind{KindTask, KindMilestone, KindRisk} }

func stateCodes() [5]State {
	return [...]State{StateTodo, StateInProgress, StateBlocked, StateDone, StateCancelled}
}

// MarshalBinary encodes the facts compactly, for a store to keep.
func (f *Facts) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+len(f.Rows)*24+len(f.Details)*64)
	b = append(b, factsMagic...)
	b = binary.AppendUvarint(b, uint64(len(f.Rows)))
	b = binary.AppendUvarint(b, uint64(len(f.Details)))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	f64 := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) }
	kinds, states := kindCodes(), stateCodes()
	prev := ""
	for i := range f.Rows {
		r := &f.Rows[i]
		k := codeOf(kinds[:], r.Kind)
		s := codeOf(states[:], r.State)
		if k < 0 || s < 0 {
			return nil, fmt.Errorf("encode facts: item %s of source %s: kind %q or state %q is not known", r.ExternalID, r.Source, r.Kind, r.State)
		}
		if r.Likelihood < 0 || r.Likelihood > 15 || r.Impact < 0 || r.Impact > 15 {
			return nil, fmt.Errorf("encode facts: item %s of source %s: likelihood %d or impact %d is out of range", r.ExternalID, r.Source, r.Likelihood, r.Impact)
		}
		// The source is written when it differs from the previous row's:
		// the rows of one source are usually all together.
		head := byte(k)<<4 | byte(s)<<1
		if r.Source != prev {
			head |= 1
		}
		b = append(b, head, byte(r.Flags), byte(r.Likelihood)<<4|byte(r.Impact))
		if r.Source != prev {
			str(r.Source)
			prev = r.Source
		}
		str(r.ExternalID)
		b = binary.AppendVarint(b, int64(r.Milestone))
		b = binary.AppendVarint(b, int64(r.Detail))
		if r.Flags&FactPlanned != 0 {
			f64(r.Planned)
		}
		if r.Flags&FactActual != 0 {
			f64(r.Actual)
		}
		if r.Flags&FactDoneAt != 0 {
			b = binary.AppendVarint(b, r.DoneAt)
		}
	}
	for i := range f.Details {
		d := &f.Details[i]
		str(d.Title)
		str(d.URL)
		str(d.Owner)
		str(string(d.Start))
		str(string(d.Due))
		str(string(d.Baseline))
		if d.HasPercent {
			b = append(b, 1)
			f64(d.Percent)
		} else {
			b = append(b, 0)
		}
	}
	return b, nil
}

func codeOf[T comparable](codes []T, v T) int {
	for i, c := range codes {
		if c == v {
			return i
		}
	}
	return -1
}

// errFacts is wrapped by every error of UnmarshalBinary.
var errFacts = errors.New("facts are not in this build's binary form")

// UnmarshalBinary decodes what MarshalBinary encoded. The strings of the
// facts share one copy of data.
func (f *Facts) UnmarshalBinary(data []byte) error {
	if len(data) < len(factsMagic) || string(data[:len(factsMagic)]) != factsMagic {
		return fmt.Errorf("decode facts: %w: no header", errFacts)
	}
	s := string(data[len(factsMagic):]) // one copy; every string below is a slice of it
	pos := 0
	fail := func(what string) error {
		return fmt.Errorf("decode facts: %w: %s at byte %d", errFacts, what, pos+len(factsMagic))
	}
	uvarint := func() (uint64, bool) {
		v, n := uvarintString(s[pos:])
		if n <= 0 {
			return 0, false
		}
		pos += n
		return v, true
	}
	varint := func() (int64, bool) {
		u, ok := uvarint()
		v := int64(u >> 1)
		if u&1 != 0 {
			v = ^v
		}
		return v, ok
	}
	str := func() (string, bool) {
		n, ok := uvarint()
		if !ok || n > uint64(len(s)-pos) {
			return "", false
		}
		out := s[pos : pos+int(n)]
		pos += int(n)
		return out, true
	}
	f64 := func() (float64, bool) {
		if len(s)-pos < 8 {
			return 0, false
		}
		var u uint64
		for j := 7; j >= 0; j-- {
			u = u<<8 | uint64(s[pos+j])
		}
		pos += 8
		v := math.Float64frombits(u)
		return v, true
	}
	nrows, ok1 := uvarint()
	ndetails, ok2 := uvarint()
	// Every row takes at least 6 bytes and every detail 7, which bounds
	// what a corrupt count could make us allocate.
	if !ok1 || !ok2 || nrows > uint64(len(s))/6 || ndetails > uint64(len(s))/7 {
		return fail("bad counts")
	}
	var out Facts // none of either stays nil, as FactsOf leaves it
	if nrows > 0 {
		out.Rows = make([]Fact, nrows)
	}
	if ndetails > 0 {
		out.Details = make([]Detail, ndetails)
	}
	kinds, states := kindCodes(), stateCodes()
	source := ""
	for i := range out.Rows {
		if len(s)-pos < 3 {
			return fail("short row")
		}
		head, flags, li := s[pos], s[pos+1], s[pos+2]
		pos += 3
		k, st := int(head>>4), int(head>>1&7)
		if k >= len(kinds) || st >= len(states) {
			return fail("unknown kind or state")
		}
		r := &out.Rows[i]
		r.Kind, r.State, r.Flags = kinds[k], states[st], FactFlags(flags)
		r.Likelihood, r.Impact = int8(li>>4), int8(li&15)
		var ok bool
		if head&1 != 0 {
			if source, ok = str(); !ok {
				return fail("bad source")
			}
		}
		r.Source = source
		if r.ExternalID, ok = str(); !ok {
			return fail("bad external id")
		}
		m, ok1 := varint()
		d, ok2 := varint()
		if !ok1 || !ok2 || m < -1 || m >= int64(nrows) || d < -1 || d >= int64(ndetails) {
			return fail("bad milestone or detail index")
		}
		r.Milestone, r.Detail = int32(m), int32(d)
		if r.Flags&FactPlanned != 0 {
			if r.Planned, ok = f64(); !ok {
				return fail("short planned cost")
			}
		}
		if r.Flags&FactActual != 0 {
			if r.Actual, ok = f64(); !ok {
				return fail("short actual cost")
			}
		}
		if r.Flags&FactDoneAt != 0 {
			if r.DoneAt, ok = varint(); !ok {
				return fail("bad done time")
			}
		}
	}
	for i := range out.Details {
		d := &out.Details[i]
		var fields [6]string
		for j := range fields {
			var ok bool
			if fields[j], ok = str(); !ok {
				return fail("bad detail")
			}
		}
		d.Title, d.URL, d.Owner = fields[0], fields[1], fields[2]
		d.Start, d.Due, d.Baseline = Date(fields[3]), Date(fields[4]), Date(fields[5])
		if pos >= len(s) {
			return fail("short detail")
		}
		has := s[pos]
		pos++
		if has == 1 {
			var ok bool
			if d.Percent, ok = f64(); !ok {
				return fail("short percent")
			}
			d.HasPercent = true
		}
	}
	if pos != len(s) {
		return fail("trailing bytes")
	}
	*f = out
	return nil
}

// uvarintString is binary.Uvarint over a string, without copying it.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// doneTime is a fact's done time as Build reads it.
func (f *Fact) doneTime() time.Time { return time.Unix(f.DoneAt, 0) }
