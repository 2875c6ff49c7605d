package pagetoken

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type cursor struct {
	T  int64  `json:"t"`
	ID string `json:"i"`
	F  string `json:"f"`
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	want := cursor{T: 1732300000123456, ID: "needs/ä", F: Fingerprint([]string{"72", "DE7"})}
	tok, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	var got cursor
	if err := Decode(tok, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"%%%", "bm90IGpzb24", "", "e30=="} {
		var c cursor
		if err := Decode(tok, &c); err == nil {
			t.Errorf("Decode(%q) accepted", tok)
		}
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	a, b := Fingerprint([]string{"72"}), Fingerprint([]string{"73"})
	if a == b || a != Fingerprint([]string{"72"}) {
		t.Errorf("fingerprints: %q, %q", a, b)
	}
}
