package mapping

import "testing"

// BenchmarkMap maps a Jira issue with the PMO template's rules: two
// expressions (kind, state), a map, paths into fields and custom fields,
// dates, numbers, scores, labels from an expression and extra fields.
func BenchmarkMap(b *testing.B) {
	s := jiraSet(b)
	r := loadRecord(b, "jira-issue.json")
	if _, err := s.Map(r); err != nil {
		b.Fatalf("Map: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Map(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapParallel is BenchmarkMap from several goroutines, as a
// pipeline mapping pages concurrently would run it.
func BenchmarkMapParallel(b *testing.B) {
	s := jiraSet(b)
	r := loadRecord(b, "jira-issue.json")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Map(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
