package itemcodec

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

func ptr(f float64) *float64 { return &f }

func TestEncode(t *testing.T) {
	it := pmsync.Item{
		Start: "2026-03-01", Due: "2026-12-18",
		PercentComplete: ptr(42.5), ActualCost: ptr(0),
		Labels: []string{"clinical", "go-live"},
		Fields: map[string]any{"site": "North", "phase": 2.0},
	}
	got, err := Encode(it)
	if err != nil {
		t.Fatal(err)
	}
	want := Values{Start: "2026-03-01", Due: "2026-12-18", Percent: ptr(42.5), Actual: ptr(0),
		Labels: `["clinical","go-live"]`, Fields: `{"phase":2,"site":"North"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	if got.Percent == it.PercentComplete {
		t.Error("Encode keeps the item's own pointer; it must copy the number")
	}

	none, err := Encode(pmsync.Item{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Values{Labels: "[]", Fields: "{}"}); !cmp.Equal(want, none) {
		t.Errorf("Encode(empty item) = %+v, want %+v", none, want)
	}

	var back pmsync.Item
	if err := DecodeJSON(got.Labels, got.Fields, &back); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(it.Labels, back.Labels) || !cmp.Equal(it.Fields, back.Fields) {
		t.Errorf("DecodeJSON gave labels %v fields %v, want %v %v", back.Labels, back.Fields, it.Labels, it.Fields)
	}
	back = pmsync.Item{Labels: []string{"stale"}}
	if err := DecodeJSON("[]", "{}", &back); err != nil || back.Labels != nil || back.Fields != nil {
		t.Errorf("DecodeJSON of none gave %v %v (%v), want nil and nil", back.Labels, back.Fields, err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, c := range []struct {
		it   pmsync.Item
		want string
	}{
		{pmsync.Item{Start: "2026-3-1"}, `start: date "2026-3-1" is not YYYY-MM-DD`},
		{pmsync.Item{Due: "2026-02-30"}, `due: date "2026-02-30" is not YYYY-MM-DD`},
		{pmsync.Item{Due: "2026-12-18T00:00:00Z"}, `due: date "2026-12-18T00:00:00Z" is not YYYY-MM-DD`},
		{pmsync.Item{PercentComplete: ptr(math.NaN())}, "percent complete: NaN is not a finite number"},
		{pmsync.Item{PlannedCost: ptr(math.Inf(1))}, "planned cost: +Inf is not a finite number"},
		{pmsync.Item{ActualCost: ptr(math.Inf(-1))}, "actual cost: -Inf is not a finite number"},
	} {
		_, err := Encode(c.it)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%+v) = %v, want %q", c.it, err, c.want)
		}
	}
	var it pmsync.Item
	if err := DecodeJSON("{", "{}", &it); err == nil || !strings.HasPrefix(err.Error(), "labels: ") {
		t.Errorf("DecodeJSON of broken labels = %v, want a labels error", err)
	}
}
