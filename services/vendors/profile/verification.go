package profile

import (
	"slices"
	"strings"
)

// AttestedFields are the fields an admin vouches for by verifying a vendor:
// who it is (name; kind, the profile's nearest thing to a legal form, which
// also carries SME and non-profit status; headquarters) and what it claims
// to hold (certifications). The profile has no separate legal-form field.
// When anyone but an admin changes one of them, the admin's check no longer
// covers what the profile says, so Update resets a Verified vendor to
// Unverified (see resetVerification).
var AttestedFields = []string{FieldDisplayName, FieldKind, FieldHeadquarters, FieldCertifications}

// AttestedChanges lists the attested fields whose values differ between
// before and after, in the order of AttestedFields. Certifications compare
// as sets: reordering them attests nothing new.
func AttestedChanges(before, after Fields) []string {
	var out []string
	for _, f := range AttestedFields {
		var same bool
		switch f {
		case FieldDisplayName:
			same = before.DisplayName == after.DisplayName
		case FieldKind:
			same = before.Kind == after.Kind
		case FieldHeadquarters:
			same = before.Headquarters == after.Headquarters
		case FieldCertifications:
			same = sameSet(before.Certifications, after.Certifications)
		}
		if !same {
			out = append(out, f)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// resetVerification voids the verification of v when an edit changed an
// attested field (before holds the fields as they were). Only Verified
// vendors are reset: a Rejected one stays rejected, so that renaming does
// not shed a rejection; it waits for an admin like an Unverified one. The
// verify time stays that of the voided check; the note says what voided it,
// since the profile keeps no history of its own (events and the audit trail
// do).
func resetVerification(v *Vendor, before Fields) {
	if v.Verification != Verified {
		return
	}
	changed := AttestedChanges(before, v.Fields)
	if len(changed) == 0 {
		return
	}
	checked := "the admin's check"
	if !v.VerifyTime.IsZero() {
		checked += " of " + v.VerifyTime.UTC().Format("2006-01-02")
	}
	v.Verification = Unverified
	v.VerificationNote = "Verification reset: " + strings.Join(changed, ", ") + " changed after " + checked +
		"; an admin must verify the vendor again."
}
