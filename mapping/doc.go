// Package mapping turns the records connectors pull into items, following
// named rule sets written in YAML. A set is parsed with Parse (or decoded as
// part of the config file), compiled once with Compile, and then applied to
// every record with Set.Map. The package does no I/O.
//
// # Rule sets
//
// A set has one key per target field of pmsync.Item: kind, title, url,
// owner, priority, status, state, start, due, done_at, updated_at,
// percent_complete, planned_cost, actual_cost, likelihood, impact,
// milestone, parent, labels, plus `fields` (name -> rule) for extra values
// kept by name. `extends: other` starts from another set and overrides the
// rules given. Unknown keys are errors. kind, title and state must have a
// rule; an absent url or updated_at rule keeps the record's own.
//
//	extends: jira-default
//	state:
//	  expr: 'fields.status?.name == "Blocked" ? "blocked" : fields.status?.statusCategory?.key'
//	  map: { new: todo, indeterminate: in_progress, done: done }
//	  default: todo
//	percent_complete: { path: 'cells["% Complete"]', scale: 100 }
//	fields:
//	  team: { path: 'custom["Team"].value' }
//
// A rule takes its value from exactly one of `path`, `expr` or `value` (a
// constant), then applies, in order:
//   - map: replaces the value's string form, matching exactly first and then
//     ignoring letter case and surrounding spaces; a value not in the map
//     passes through unchanged (Set.Explain reports it). For kind and state,
//     a value that already is a kind or state is kept as it is, so an
//     expression may yield "blocked" beside values that the map translates;
//   - default: used when the value is empty (nil, "", an empty list), or when
//     a map is given and does not hold the value (nor, for kind and state,
//     is already valid);
//   - required: an empty value is then an error;
//   - scale: multiplies a number (percent_complete, planned_cost,
//     actual_cost, fields), rounded to 12 significant digits;
//   - format: a Go time layout tried first for date strings.
//
// Compile checks map targets, defaults and constants through the same
// conversion as record values, so `map: {Done: finished}` on state fails
// when the set is compiled, not on every record.
//
// # Paths
//
// A path is keys joined by dots, with brackets for keys that hold spaces or
// symbols and for list indexes: `fields.assignee.displayName`,
// `custom["Planned Cost"]`, `cells['% Complete']`, `labels[0]`,
// `labels[-1]` (the last). It starts at the record's data, or at `record`
// (below) when its first key is record. A missing key, an index out of range
// or a nil on the way yields nil, never an error.
//
// # Expressions
//
// Expressions use github.com/expr-lang/expr and are compiled once. The env
// is the record's data keys at the top level (for Jira: id, key, fields,
// custom, ...) plus `record`, an object {id, source, url, updated_at} with
// updated_at an RFC 3339 string in UTC; `record` hides a data key of the
// same name. Unknown names are nil. Member access on nil is an error in
// expr, so write `fields.assignee?.displayName ?? ""` where a value may be
// null. All of expr's builtins are available (lower, trim, filter, map, any,
// len, ...), and these functions, which replace any builtin of the same
// name:
//   - date(x): the ISO date (YYYY-MM-DD) of a date or timestamp string, as
//     written; nil when x is empty or not a date.
//   - num(x): x as a float64 from a number or a numeric string, tolerating
//     thousands separators, surrounding spaces, currency symbols and a
//     percent sign ("$1,200.50" is 1200.5); nil when not a number.
//   - names(list, key): the values of key in a list of objects, e.g.
//     names(labels, "name") for Trello labels.
//   - has(list, value): whether the list holds value, comparing text
//     without regard to letter case and numbers by value.
//
// # Conversions
//
// The value is then converted for its field; a failure is a *FieldError
// naming the field and value, e.g. `due: "31/02/2026" is not a date`.
//   - kind, state: text, in any letter case, that is a pmsync.Kind or
//     pmsync.State; empty is an error.
//   - title, url, owner, priority, status, milestone, parent: the text
//     form; numbers are written plainly (10001, not 1.0001e+04). An empty
//     title is an error.
//   - start, due: a date from YYYY-MM-DD, RFC 3339, Jira's
//     2026-01-05T10:00:00.000+0000 or Smartsheet's 2026-01-05T00:00:00,
//     keeping the date as written (no zone shift).
//   - done_at, updated_at: an instant in UTC from the same forms; a form
//     without a zone is UTC, a date alone is its midnight UTC.
//   - percent_complete (0..100), planned_cost, actual_cost: a number or a
//     numeric string, unset when empty.
//   - likelihood, impact: a whole number 1..5 from a number, "3" or a label
//     led by its digit such as "4 - High"; 0 (unset) when empty.
//   - labels: a list of strings, a list of objects with a name, or a
//     comma-separated string.
//   - fields: a scalar (string, float64, bool) or a list of scalars, kept
//     as is; objects are refused so that no payload is stored by accident.
package mapping
