package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// titled is a rule set that takes the title, labels and a note field from
// the record, with the redact key given (or none when redact is "").
func titled(t *testing.T, redact string) *Set {
	t.Helper()
	src := `
kind: { value: task }
title: { path: name }
state: { value: todo }
owner: { path: owner }
labels: { path: tags }
fields:
  note: { path: note }
  refs: { path: refs }
  cost: { path: cost }
`
	if redact != "" {
		src += "redact: " + redact + "\n"
	}
	return compileYAML(t, "titled", src)
}

// TestBuiltinRedactions runs every built-in rule over hand-written text:
// what must be redacted, and what a PMO's titles hold that must survive
// (dates, ticket keys, costs, versions, counts).
func TestBuiltinRedactions(t *testing.T) {
	s := titled(t, "")
	tests := []struct{ in, want string }{
		// ssn
		{"Transfer for 123-45-6789 pending", "Transfer for [redacted:ssn] pending"},
		{"SSN: 123456789 on file", "SSN: [redacted:ssn] on file"},
		{"social security no. 987654321", "social security no. [redacted:ssn]"},
		{"SSN 123 45 6789", "SSN [redacted:ssn]"},
		// mrn
		{"Fix allergy list for MRN 00123456", "Fix allergy list for MRN [redacted:mrn]"},
		{"mrn#A1234567 duplicate chart", "mrn#[redacted:mrn] duplicate chart"},
		{"Medical record number: 7654321 merge", "Medical record number: [redacted:mrn] merge"},
		{"Patient ID 884422 missing", "Patient ID [redacted:mrn] missing"},
		{"chart #55512345 locked", "chart #[redacted:mrn] locked"},
		// dob
		{"Wrong DOB 03/14/1962 in registration", "Wrong DOB [redacted:dob] in registration"},
		{"date of birth: 1962-03-14", "date of birth: [redacted:dob]"},
		{"born 14 March 1962, twin", "born [redacted:dob], twin"},
		{"D.O.B. Mar 14, 1962", "D.O.B. [redacted:dob]"},
		// email
		{"Email jane.doe@example.org about consent", "Email [redacted:email] about consent"},
		{"cc J.Smith+ehr@mail.hospital.example.com", "cc [redacted:email]"},
		// phone
		{"Call (555) 123-4567 after 5", "Call [redacted:phone] after 5"},
		{"Call 555-123-4567", "Call [redacted:phone]"},
		{"Call 555.123.4567 or +1 555 123 4567", "Call [redacted:phone] or [redacted:phone]"},
		{"UK contact +44 20 7946 0958", "UK contact [redacted:phone]"},
		{"Reach +442079460958 today", "Reach [redacted:phone] today"},
		{"Phone: 5551234567", "Phone: [redacted:phone]"},
		{"mobile 0171 2345678", "mobile [redacted:phone]"},
		// several rules in one value
		{"MRN 12345678, DOB 1/2/1950, call 555-123-4567", "MRN [redacted:mrn], DOB [redacted:dob], call [redacted:phone]"},
		// what must survive
		{"Go-live 2026-05-01", "Go-live 2026-05-01"},
		{"Cutover 2026-05-01 to 2026-06-30", "Cutover 2026-05-01 to 2026-06-30"},
		{"EHR-1234 interface build", "EHR-1234 interface build"},
		{"Wave 3 of 12 (2 weeks)", "Wave 3 of 12 (2 weeks)"},
		{"Budget $1,200,000 approved", "Budget $1,200,000 approved"},
		{"Upgrade to 2.10.3", "Upgrade to 2.10.3"},
		{"Order set 4521 review", "Order set 4521 review"},
		{"Room 301-B", "Room 301-B"},
		{"+15% contingency", "+15% contingency"},
		{"Ticket #123456 from the help desk", "Ticket #123456 from the help desk"},
		{"Patient portal go-live", "Patient portal go-live"},
		{"Phase 2 (Q3 2026)", "Phase 2 (Q3 2026)"},
		{"Deliverable due 12/01/2026", "Deliverable due 12/01/2026"},
		{"Team at pmo@ (alias)", "Team at pmo@ (alias)"},
	}
	for _, tt := range tests {
		it, err := s.Map(rec(map[string]any{"name": tt.in}))
		if err != nil {
			t.Errorf("Map(%q): %v", tt.in, err)
			continue
		}
		if it.Title != tt.want {
			t.Errorf("title %q\n got %q\nwant %q", tt.in, it.Title, tt.want)
		}
	}
}

// TestRedactionCoversFreeTextOnly checks where redaction applies: the
// title, labels and text in fields, never numbers or identifiers.
func TestRedactionCoversFreeTextOnly(t *testing.T) {
	s := titled(t, "")
	it, ex, err := s.Probe(rec(map[string]any{
		"name":  "Call 555-123-4567 re jane@example.org",
		"owner": "pmo@example.org",
		"tags":  []any{"mrn 1234567", "cutover"},
		"note":  "DOB 01/02/1950",
		"refs":  []any{"SSN 123456789", "EHR-12"},
		"cost":  5551234567.0,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if it.Title != "Call [redacted:phone] re [redacted:email]" {
		t.Errorf("title = %q", it.Title)
	}
	if it.Owner != "pmo@example.org" {
		t.Errorf("owner = %q; owner is an identifier and stays as mapped", it.Owner)
	}
	if diff := cmp.Diff([]string{"mrn [redacted:mrn]", "cutover"}, it.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if it.Fields["note"] != "DOB [redacted:dob]" {
		t.Errorf("fields.note = %q", it.Fields["note"])
	}
	if diff := cmp.Diff([]any{"SSN [redacted:ssn]", "EHR-12"}, it.Fields["refs"]); diff != "" {
		t.Errorf("fields.refs (-want +got):\n%s", diff)
	}
	if it.Fields["cost"] != 5551234567.0 {
		t.Errorf("fields.cost = %v; numbers are not text", it.Fields["cost"])
	}
	// One value per rule: the title counts once for phone and once for
	// email, the labels once for mrn, the fields once each.
	want := map[string]int{"phone": 1, "email": 1, "mrn": 1, "dob": 1, "ssn": 1}
	if diff := cmp.Diff(want, ex.Redacted); diff != "" {
		t.Errorf("redaction counts (-want +got):\n%s", diff)
	}
}

func TestRedactListChoosesRules(t *testing.T) {
	text := "Badge BDG-004211 for MRN 1234567, call 555-123-4567"
	tests := []struct {
		name, redact, want string
		rules              []string
	}{
		{"default is every built-in rule", "", "Badge BDG-004211 for MRN [redacted:mrn], call [redacted:phone]",
			[]string{"ssn", "mrn", "dob", "email", "phone"}},
		{"off", "[]", text, []string{}},
		{"some built-ins", "[mrn]", "Badge BDG-004211 for MRN [redacted:mrn], call 555-123-4567", []string{"mrn"}},
		{"own rule beside the built-ins", `[builtin, { name: badge, pattern: 'BDG-\d{6}' }]`,
			"Badge [redacted:badge] for MRN [redacted:mrn], call [redacted:phone]",
			[]string{"ssn", "mrn", "dob", "email", "phone", "badge"}},
		{"own replacement and a value group", `[{ name: badge, pattern: 'Badge (?P<value>BDG-\d+)', replace: "#####" }]`,
			"Badge ##### for MRN 1234567, call 555-123-4567", []string{"badge"}},
		{"a built-in name with a pattern of one's own", `[{ name: mrn, pattern: 'MRN \d{7}' }]`,
			"Badge BDG-004211 for [redacted:mrn], call 555-123-4567", []string{"mrn"}},
		{"builtin after a named built-in keeps one of each", "[phone, builtin]",
			"Badge BDG-004211 for MRN [redacted:mrn], call [redacted:phone]",
			[]string{"phone", "ssn", "mrn", "dob", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := titled(t, tt.redact)
			it, err := s.Map(rec(map[string]any{"name": text}))
			if err != nil {
				t.Fatal(err)
			}
			if it.Title != tt.want {
				t.Errorf("title\n got %q\nwant %q", it.Title, tt.want)
			}
			if diff := cmp.Diff(tt.rules, s.Redactions()); diff != "" {
				t.Errorf("Redactions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactIsInherited(t *testing.T) {
	parse := func(name, src string) Spec {
		t.Helper()
		s, err := Parse(name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	specs := map[string]Spec{
		"base":    parse("base", "kind: { value: task }\ntitle: { path: name }\nstate: { value: todo }\n"),
		"quiet":   parse("quiet", "extends: base\nredact: [email]\n"),
		"quieter": parse("quieter", "extends: quiet\nowner: { path: owner }\n"),
		"loud":    parse("loud", "extends: quiet\nredact: []\n"),
	}
	lookup := func(n string) (Spec, bool) { s, ok := specs[n]; return s, ok }
	for name, want := range map[string][]string{
		"base":    {"ssn", "mrn", "dob", "email", "phone"},
		"quiet":   {"email"},
		"quieter": {"email"},
		"loud":    {},
	} {
		set, err := Compile(name, specs[name], lookup)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, set.Redactions()); diff != "" {
			t.Errorf("%s: Redactions (-want +got):\n%s", name, diff)
		}
	}
	fp := func(name string) string {
		set, err := Compile(name, specs[name], lookup)
		if err != nil {
			t.Fatal(err)
		}
		return set.Fingerprint()
	}
	if fp("quiet") == fp("loud") {
		t.Error("turning redaction off kept the fingerprint: stored items would keep their redacted text")
	}
}

func TestRedactProblemsNameTheEntry(t *testing.T) {
	tests := []struct {
		redact, path, msg string
	}{
		{"[passport]", "redact[0]", `"passport" is not a built-in rule`},
		{`[ssn, { name: badge, pattern: "BDG-(" }]`, "redact[1].pattern", "is not a regular expression"},
		{`[{ name: anything, pattern: "x*" }]`, "redact[0].pattern", "matches the empty text"},
		{"[ssn, email, ssn]", "redact[2]", `"ssn" is listed twice`},
		{`[{ name: "Badge Id", pattern: "B\\d+" }]`, "redact[0].name", "may only contain"},
		{`[{ pattern: "B\\d+" }]`, "redact[0]", "needs a name"},
		{`[{ name: builtin, pattern: "B\\d+" }]`, "redact[0].name", "takes no pattern"},
	}
	for _, tt := range tests {
		spec, err := Parse("mine", []byte(base+"redact: "+tt.redact+"\n"))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.redact, err)
		}
		_, err = Compile("mine", spec, nil)
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("redact %s: err = %v, want a *mapping.Error", tt.redact, err)
			continue
		}
		if me.Path != tt.path || !strings.Contains(me.Err.Error(), tt.msg) {
			t.Errorf("redact %s: got %s: %v; want %s: …%s…", tt.redact, me.Path, me.Err, tt.path, tt.msg)
		}
	}
	// An entry of the wrong shape is a decoding error with its line.
	_, err := Parse("mine", []byte(base+"redact: [{ name: x, regex: y }]\n"))
	if err == nil || !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "regex") {
		t.Errorf("unknown key in a redact entry: err = %v, want it named with its line", err)
	}
}

// TestQuarantineReasonIsRedacted: a record that fails to map becomes a
// stored quarantine reason quoting the value; that value is redacted too.
func TestQuarantineReasonIsRedacted(t *testing.T) {
	s := compileYAML(t, "strict", base+"due: { path: due }\n")
	_, err := s.Map(rec(map[string]any{"due": "DOB 03/14/1962"}))
	if err == nil {
		t.Fatal("a birth date with its label mapped as a due date")
	}
	if strings.Contains(err.Error(), "1962") || !strings.Contains(err.Error(), "[redacted:dob]") {
		t.Errorf("err = %q, want the value redacted", err)
	}
}

func TestSetRedactForPushedText(t *testing.T) {
	s := titled(t, "[email]")
	if got := s.Redact("2 milestones late: Consent for a@b.example (due 2026-05-01)"); got != "2 milestones late: Consent for [redacted:email] (due 2026-05-01)" {
		t.Errorf("Redact = %q", got)
	}
	// Redacting twice changes nothing more: pushed text may already be.
	once := titled(t, "").Redact("MRN 1234567 at 555-123-4567")
	if twice := titled(t, "").Redact(once); twice != once {
		t.Errorf("redacting again changed %q to %q", once, twice)
	}
}

// BenchmarkMapNoRedaction is BenchmarkMap with redaction turned off, so
// that the two together give the cost of the built-in rules per record.
func BenchmarkMapNoRedaction(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "jira.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	s := compileYAML(b, "jira", string(src)+"\nredact: []\n")
	r := loadRecord(b, "jira-issue.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Map(r); err != nil {
			b.Fatal(err)
		}
	}
}
