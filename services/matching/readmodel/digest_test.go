package readmodel_test

import (
	"context"
	"testing"

	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/readmodel"
)

func vendorAt(v *vendorsv1.Vendor, etag string) *vendorsv1.Vendor {
	v.Etag = etag
	return v
}

func needAt(n *needsv1.Need, etag string) *needsv1.Need {
	n.Etag = etag
	return n
}

// TestDigest checks the content digest that keys the match cache: equal
// for equal content however it was reached, different for any other.
func TestDigest(t *testing.T) {
	t.Parallel()
	a1 := vendorAt(vendor("a", "A", bookingDesc, "72212000"), "1")
	a2 := vendorAt(vendor("a", "A", bookingDesc+" Neu.", "72212000"), "2")
	b1 := vendorAt(vendor("b", "B", bookingDesc, "72212000"), "1")
	n1 := needAt(need("n1", "stadt-giessen", needsv1.Need_STATE_DRAFT, bookingNeedTitle, bookingProblem, "72212000"), "1")
	n1pub := needAt(need("n1", "stadt-giessen", needsv1.Need_STATE_PUBLISHED, bookingNeedTitle, bookingProblem, "72212000"), "2")

	// By events, in one order.
	ev := newHarness(t)
	empty := digestOf(ev.rm)
	ev.publish("vendors", "a", 1, &vendorsv1.VendorCreated{Vendor: a1})
	afterA1 := digestOf(ev.rm)
	ev.publish("vendors", "b", 1, &vendorsv1.VendorCreated{Vendor: b1})
	ev.publish("needs", "n1", 1, &needsv1.NeedCreated{Need: n1})
	ev.publish("vendors", "a", 2, &vendorsv1.VendorUpdated{Vendor: a2})
	afterA2 := digestOf(ev.rm)
	ev.publish("needs", "n1", 2, &needsv1.NeedPublished{Need: n1pub})
	final := digestOf(ev.rm)

	// By a rebuild, listed in another order, over stale content.
	rb := newUnbuiltHarness(t)
	rb.publish("vendors", "gone", 1, &vendorsv1.VendorCreated{Vendor: vendorAt(vendor("gone", "Gone", bookingDesc), "7")})
	if err := rb.rm.Rebuild(context.Background(), fakeLister{
		vendors: []*vendorsv1.Vendor{b1, a2},
		needs:   []*needsv1.Need{n1pub},
	}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name       string
		a, b       string
		wantEquals bool
	}{
		{"events and rebuild reach one digest", final, digestOf(rb.rm), true},
		{"a vendor added changes it", empty, afterA1, false},
		{"a vendor updated changes it", afterA1, afterA2, false},
		{"a need's state changes it", afterA2, final, false},
	} {
		if (c.a == c.b) != c.wantEquals {
			t.Errorf("%s: %s vs %s", c.name, c.a, c.b)
		}
	}

	// Deleting everything gives back the empty model's digest, but not its
	// version: the cache needs both.
	_, v := ev.rm.DigestVersion()
	ev.publish("vendors", "a", 3, &vendorsv1.VendorDeleted{Name: "vendors/a"})
	ev.publish("vendors", "b", 2, &vendorsv1.VendorDeleted{Name: "vendors/b"})
	ev.publish("needs", "n1", 3, &needsv1.NeedDeleted{Name: "needs/n1"})
	d, v2 := ev.rm.DigestVersion()
	if d != empty || v2 <= v {
		t.Errorf("after deleting everything: digest %s (empty %s), version %d (was %d)", d, empty, v2, v)
	}

	// Without an etag, the content counts.
	noEtag := newHarness(t)
	noEtag.publish("vendors", "a", 1, &vendorsv1.VendorCreated{Vendor: vendor("a", "A", bookingDesc)})
	d1 := digestOf(noEtag.rm)
	noEtag.publish("vendors", "a", 2, &vendorsv1.VendorUpdated{Vendor: vendor("a", "A", bookingDesc+" Neu.")})
	if digestOf(noEtag.rm) == d1 {
		t.Error("a vendor without etag changed its content and the digest stayed the same")
	}
}

func digestOf(m *readmodel.Model) string {
	d, _ := m.DigestVersion()
	return d
}
