package tags

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "iso with space", in: "ISO 27001", want: "iso-27001"},
		{name: "iso with slash", in: "ISO/IEC 27001:2022", want: "iso-iec-27001-2022"},
		{name: "already canonical", in: "bsi-c5", want: "bsi-c5"},
		{name: "surrounding punctuation", in: "  --BSI C5--  ", want: "bsi-c5"},
		{name: "umlaut kept", in: "XÖV", want: "xöv"},
		{name: "decomposed umlaut composed", in: "XO\u0308V", want: "xöv"},
		{name: "bitv", in: "BITV 2.0 / WCAG 2.1 AA", want: "bitv-2-0-wcag-2-1-aa"},
		{name: "empty", in: "", wantErr: true},
		{name: "punctuation only", in: "--//--", wantErr: true},
		{name: "too long", in: strings.Repeat("a", 65), wantErr: true},
		{name: "invalid utf8", in: "\xff", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tc.in, 64)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Normalize(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"ISO 27001", "XÖV", "BSI IT-Grundschutz", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalize(s, 64)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 64 {
			t.Fatalf("Normalize(%q) = %q: invalid or too long", s, got)
		}
		again, err := Normalize(got, 64)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", s, got, again, err)
		}
	})
}
