package refdata

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// The fuzzers check the invariants services rely on when they store the
// output of a normaliser: no panic, an error always explains itself, and a
// success is canonical, so normalising it again changes nothing.

// checkErr fails if err does not carry a readable message; the message ends up
// in a field violation shown to the user.
func checkErr(t *testing.T, in string, err error) {
	t.Helper()
	msg := err.Error()
	if msg == "" || !utf8.ValidString(msg) || len(msg) > 1000 {
		t.Errorf("error for %s is not a short readable message: %q", quote(in), msg)
	}
}

func FuzzNormalizeCPV(f *testing.F) {
	for _, s := range []string{
		"72212000", "72212000-4", "72212000-9", " 03100000 ", "72212001", "7221-2000",
		"", "-", "72212000-", "00000000", "７２２１２０００", "72212000-4-4", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, err := NormalizeCPV(in)
		if err != nil {
			checkErr(t, in, err)
			if code != "" {
				t.Errorf("NormalizeCPV(%s) returned %q along with error %v", quote(in), code, err)
			}
			return
		}
		if !isDigits(code, 8) {
			t.Fatalf("NormalizeCPV(%s) = %q, not 8 ASCII digits", quote(in), code)
		}
		c, ok := LookupCPV(code)
		if !ok {
			t.Fatalf("NormalizeCPV(%s) = %q, which LookupCPV does not find", quote(in), code)
		}
		for _, again := range []string{code, code + "-" + c.CheckDigit} {
			got, err := NormalizeCPV(again)
			if diff := cmp.Diff(code, got); diff != "" || err != nil {
				t.Errorf("NormalizeCPV(%q) after NormalizeCPV(%s): err %v, mismatch (-want +got):\n%s", again, quote(in), err, diff)
			}
		}
		if !strings.HasPrefix(code, CPVPrefix(code)) {
			t.Errorf("%s does not match its own prefix %q", code, CPVPrefix(code))
		}
		if p, ok := CPVParent(code); ok && !strings.HasPrefix(code, CPVPrefix(p)) {
			t.Errorf("parent %s of %s does not match it by prefix", p, code)
		}
	})
}

func FuzzNormalizeRegion(f *testing.F) {
	for _, s := range []string{
		"DE", "de6", "DE11", "DE111", "02000000", " dEb3K ", "DEZZZ", "DEZ", "DE999",
		"FR101", "99999999", "02000", "", "Hamburg", "AGS:02", "ＤＥ", "dı", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := NormalizeRegion(in)
		if err != nil {
			checkErr(t, in, err)
			if diff := cmp.Diff(Region{}, r); diff != "" {
				t.Errorf("NormalizeRegion(%s) returned a region along with error %v:\n%s", quote(in), err, diff)
			}
			return
		}
		again, err := NormalizeRegion(r.Code)
		if diff := cmp.Diff(r, again); diff != "" || err != nil {
			t.Errorf("NormalizeRegion(%q) after NormalizeRegion(%s): err %v, mismatch (-want +got):\n%s", r.Code, quote(in), err, diff)
		}
		if got, ok := LookupRegion(r.Code); !ok || got != r {
			t.Errorf("LookupRegion(%q) = %+v, %v; want %+v", r.Code, got, ok, r)
		}
		keys := RegionKeys(r.Code)
		if len(keys) == 0 || keys[0] != "DE" {
			t.Fatalf("RegionKeys(%q) = %q, want a list starting with DE", r.Code, keys)
		}
		if !slices.Contains(keys, r.Code) && !slices.Contains(keys, "AGS:"+r.Code) {
			t.Errorf("RegionKeys(%q) = %q does not contain the place itself", r.Code, keys)
		}
		for _, k := range keys {
			got, err := RegionFilterKey(k)
			if diff := cmp.Diff(k, got); diff != "" || err != nil {
				t.Errorf("key %q of %s: RegionFilterKey err %v, mismatch (-want +got):\n%s", k, r.Code, err, diff)
			}
		}
	})
}

func FuzzRegionFilterKey(f *testing.F) {
	for _, s := range []string{
		"DE", "de6", "DE11", "DE111", "02", "02000", "02000000", "AGS:02", "ags:08115",
		"Hamburg", "baden-wuerttemberg", "Thu\u0308ringen", "hesse", "17", "021", "DEZZZ",
		"AGS:", "", "０２", "\xff", "Sachsen - Anhalt",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := RegionFilterKey(in)
		if err != nil {
			checkErr(t, in, err)
			if key != "" {
				t.Errorf("RegionFilterKey(%s) returned %q along with error %v", quote(in), key, err)
			}
			return
		}
		again, err := RegionFilterKey(key)
		if diff := cmp.Diff(key, again); diff != "" || err != nil {
			t.Errorf("RegionFilterKey(%q) after RegionFilterKey(%s): err %v, mismatch (-want +got):\n%s", key, quote(in), err, diff)
		}
		// A key must select something: the region it names, or for an AGS
		// Land or Kreis at least one municipality's keys contain it.
		code, isAGS := strings.CutPrefix(key, "AGS:")
		switch {
		case !isAGS:
			if r, ok := LookupRegion(key); !ok || r.Kind == Municipality {
				t.Errorf("RegionFilterKey(%s) = %q, which is not a NUTS region", quote(in), key)
			}
		case len(code) == 8:
			if !slices.Contains(RegionKeys(code), key) {
				t.Errorf("RegionFilterKey(%s) = %q, which municipality %s does not match", quote(in), key, code)
			}
		default:
			if !slices.ContainsFunc(Regions(), func(r Region) bool {
				return r.Kind == Municipality && strings.HasPrefix(r.Code, code)
			}) {
				t.Errorf("RegionFilterKey(%s) = %q, which contains no municipality", quote(in), key)
			}
		}
	})
}
