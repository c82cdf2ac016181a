package web

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestContrastAA checks the stylesheet's text colours against what they are
// drawn on: WCAG 2 level AA asks for a contrast ratio of at least 4.5:1.
func TestContrastAA(t *testing.T) {
	css, err := assets.ReadFile("assets/pmsync.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"white": "#ffffff"}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-f]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	// The matrix zones are literal backgrounds under --ink text.
	for _, m := range regexp.MustCompile(`\.z-(red|watch|low) \{ background: (#[0-9a-f]{6}); \}`).FindAllStringSubmatch(string(css), -1) {
		vars["zone-"+m[1]] = m[2]
	}
	for _, pair := range [][2]string{
		{"ink", "white"}, {"muted", "white"}, {"link", "white"},
		{"red", "white"}, {"amber", "white"}, {"green", "white"}, // words and outcomes in colour
		{"white", "red"}, {"white", "amber"}, {"white", "green"}, // the health badges
		{"ink", "zone-red"}, {"ink", "zone-watch"}, {"ink", "zone-low"},
		{"muted", "zone-red"}, {"muted", "zone-watch"}, {"muted", "zone-low"}, // the "·" of an empty cell
	} {
		fg, bg := vars[pair[0]], vars[pair[1]]
		if fg == "" || bg == "" {
			t.Errorf("the stylesheet has no colour %s or %s", pair[0], pair[1])
			continue
		}
		if r := contrast(fg, bg); r < 4.5 {
			t.Errorf("%s (%s) on %s (%s): contrast %.2f, want at least 4.5", pair[0], fg, pair[1], bg, r)
		}
	}
}

// contrast is the WCAG 2 contrast ratio of two sRGB colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func TestContrastFormula(t *testing.T) {
	// Black on white is 21:1; #767676 on white is the familiar 4.54:1.
	if r := contrast("#000000", "#ffffff"); math.Abs(r-21) > 0.01 {
		t.Errorf("black on white = %.2f, want 21", r)
	}
	if r := contrast("#767676", "#ffffff"); math.Abs(r-4.54) > 0.01 {
		t.Errorf("#767676 on white = %.2f, want 4.54", r)
	}
}
