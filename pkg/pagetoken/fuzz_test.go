package pagetoken

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// offsetCursor has the shape of the offset tokens of matching and
// reference search; cursor (pagetoken_test.go) that of the keyset tokens
// of needs, responses and vendors.
type offsetCursor struct {
	Offset int    `json:"o"`
	Query  string `json:"q"`
}

// FuzzDecode feeds arbitrary tokens to Decode, as a client can. Decode
// must not panic, and whatever it accepts must survive Encode: a service
// that hands the cursor back as the next page's token must get the same
// cursor out of it, and re-encoding must then be stable, so that the same
// position always has the same token.
func FuzzDecode(f *testing.F) {
	for _, v := range []any{
		cursor{T: 1732300000123456, ID: "needs/ä", F: Fingerprint([]string{"72", "DE7"})},
		cursor{T: -1, ID: "", F: ""},
		offsetCursor{Offset: 50, Query: Fingerprint("software")},
		offsetCursor{Offset: -1 << 62},
		map[string]any{"t": 1.5, "x": []any{nil, true, "\u2028"}},
	} {
		tok, err := Encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	for _, raw := range []string{
		`{ "t" : 1 , "i" : "a" }`, // not as Encode writes it
		`{"t":1,"t":2}`,           // a key twice
		`{"t":1e3}`, `{"o":1.5}`, `{"t":9223372036854775808}`,
		`{"i":"\ud800"}`, "{\"i\":\"\xff\"}", // lone surrogate, invalid UTF-8
		`null`, `[]`, `"x"`, `{}`, `{"t":1}{}`, `{"i":"` + string(make([]byte, 64)) + `"}`,
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(raw)))
	}
	for _, s := range []string{"", "%%%", "e30=", "e30", "e31", "bnVsbA", "e30\n", " e30", "+/+/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		roundTrip[cursor](t, token)
		roundTrip[offsetCursor](t, token)
		roundTrip[any](t, token)
	})
}

// roundTrip decodes token into a T and, if Decode accepts it, checks that
// Encode and Decode give back the same T and that Encode is then a fixed
// point.
func roundTrip[T any](t *testing.T, token string) {
	t.Helper()
	var got T
	if err := Decode(token, &got); err != nil {
		return
	}
	again, err := Encode(got)
	if err != nil {
		t.Fatalf("Decode(%q) accepted %#v, which Encode refuses: %v", token, got, err)
	}
	var back T
	if err := Decode(again, &back); err != nil {
		t.Fatalf("Decode(%q) = %#v; Decode(Encode(…) = %q) failed: %v", token, got, again, err)
	}
	if diff := cmp.Diff(got, back); diff != "" {
		t.Fatalf("Decode(%q), Encode, Decode again (-first +second):\n%s", token, diff)
	}
	if third, err := Encode(back); err != nil || third != again {
		t.Fatalf("Encode not stable for the cursor of %q: %q, then %q (err %v)", token, again, third, err)
	}
}
