package profile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/identity"
)

// TestVerificationReset: a change of an attested field by anyone but an
// admin voids a verification; other fields, unchanged values and admins'
// edits keep it.
func TestVerificationReset(t *testing.T) {
	t.Parallel()
	const note = "Handelsregister geprüft"
	reset := func(fields string) string {
		return "Verification reset: " + fields + " changed after the admin's check of 2026-11-23; an admin must verify the vendor again."
	}
	tests := []struct {
		name     string
		who      identity.Principal
		start    Verification // Verified unless set
		mask     []string
		f        func(*Fields)
		want     Verification
		wantNote string
	}{
		{"display name", ownVendor, 0, []string{FieldDisplayName}, func(f *Fields) { f.DisplayName = "Civic Code GmbH" }, Unverified, reset("display_name")},
		{"kind (the legal form)", ownVendor, 0, []string{FieldKind}, func(f *Fields) { f.Kind = KindSME }, Unverified, reset("kind")},
		{"headquarters", ownVendor, 0, []string{FieldHeadquarters}, func(f *Fields) { f.Headquarters = "06412000" }, Unverified, reset("headquarters")},
		{"headquarters removed", ownVendor, 0, []string{FieldHeadquarters}, func(f *Fields) { f.Headquarters = "" }, Unverified, reset("headquarters")},
		{"certification added", ownVendor, 0, []string{FieldCertifications}, func(f *Fields) { f.Certifications = append(f.Certifications, "TISAX") }, Unverified, reset("certifications")},
		{"certification dropped", ownVendor, 0, []string{FieldCertifications}, func(f *Fields) { f.Certifications = f.Certifications[:1] }, Unverified, reset("certifications")},
		{"several, named in order", ownVendor, 0, []string{FieldCertifications, FieldDisplayName, FieldWebsite},
			func(f *Fields) { f.DisplayName, f.Certifications, f.Website = "Neu", nil, "https://neu.example/" }, Unverified, reset("display_name, certifications")},
		{"all fields (*) with one attested change", ownVendor, 0, UpdatableFields, func(f *Fields) { f.DisplayName = "Neu" }, Unverified, reset("display_name")},
		{"by the importing venture unit", venture, 0, []string{FieldDisplayName}, func(f *Fields) { f.DisplayName = "Neu" }, Unverified, reset("display_name")},

		{"description", ownVendor, 0, []string{FieldDescription}, func(f *Fields) { f.Description = "Neu." }, Verified, note},
		{"products, references, regions, website", ownVendor, 0, []string{FieldProducts, FieldReferences, FieldRegionsServed, FieldWebsite},
			func(f *Fields) { f.Products, f.References, f.RegionsServed, f.Website = nil, nil, []string{"DE7"}, "" }, Verified, note},
		{"size band and founding year", ownVendor, 0, []string{FieldSizeBand, FieldFoundingYear},
			func(f *Fields) { f.SizeBand, f.FoundingYear = SizeSmall, 2016 }, Verified, note},
		{"attested fields sent unchanged", ownVendor, 0, AttestedFields, func(*Fields) {}, Verified, note},
		{"all fields (*) sent back unchanged", ownVendor, 0, UpdatableFields, func(*Fields) {}, Verified, note},
		{"same name in another spelling of whitespace", ownVendor, 0, []string{FieldDisplayName}, func(f *Fields) { f.DisplayName = "  Civic Code e.V. " }, Verified, note},
		{"certifications reordered and respelled", ownVendor, 0, []string{FieldCertifications},
			func(f *Fields) { f.Certifications = []string{"bitv 2.0", "ISO-27001", "BSI C5"} }, Verified, note},
		{"attested change by an admin", admin, 0, []string{FieldDisplayName, FieldCertifications},
			func(f *Fields) { f.DisplayName, f.Certifications = "Neu", nil }, Verified, note},

		{"rejected stays rejected", ownVendor, Rejected, []string{FieldDisplayName}, func(f *Fields) { f.DisplayName = "Neu" }, Rejected, note},
		{"unverified stays unverified", ownVendor, Unverified, []string{FieldDisplayName}, func(f *Fields) { f.DisplayName = "Neu" }, Unverified, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newTestService(t)
			if _, err := s.BatchCreate(as(venture), []CreateRequest{{Fields: validFields(), ID: "civic-code"}}); err != nil {
				t.Fatal(err)
			}
			if tt.start == 0 {
				tt.start = Verified
			}
			if tt.start != Unverified {
				if _, err := s.Verify(as(admin), "civic-code", tt.start, note, ""); err != nil {
					t.Fatal(err)
				}
			}
			f := validFields()
			tt.f(&f)
			v, err := s.Update(as(tt.who), "civic-code", f, tt.mask, "")
			if err != nil {
				t.Fatal(err)
			}
			type verification struct {
				Status Verification
				Note   string
				Time   bool // still the time of the admin's check
			}
			want := verification{tt.want, tt.wantNote, tt.start != Unverified}
			got := verification{v.Verification, v.VerificationNote, v.VerifyTime.Equal(t0)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after the edit (-want +got):\n%s", diff)
			}
			if stored, _ := s.Get(as(anonymous), "civic-code"); stored.Verification != tt.want {
				t.Errorf("stored %v, want %v", stored.Verification, tt.want)
			}
		})
	}
}

func TestAttestedChanges(t *testing.T) {
	t.Parallel()
	base := Fields{DisplayName: "A", Kind: KindSME, Headquarters: "06531005", Certifications: []string{"iso-27001", "bsi-c5"}}
	tests := []struct {
		name string
		f    func(*Fields)
		want []string
	}{
		{"nothing", func(*Fields) {}, nil},
		{"order of certifications", func(f *Fields) { f.Certifications = []string{"bsi-c5", "iso-27001"} }, nil},
		{"certifications removed", func(f *Fields) { f.Certifications = nil }, []string{FieldCertifications}},
		{"every attested field", func(f *Fields) {
			f.DisplayName, f.Kind, f.Headquarters, f.Certifications = "B", KindNGO, "", []string{"iso-27001"}
		}, AttestedFields},
		{"unattested fields", func(f *Fields) { f.Description, f.Website, f.SizeBand = "x", "https://x.example/", SizeLarge }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			after := base.Clone()
			tt.f(&after)
			if diff := cmp.Diff(tt.want, AttestedChanges(base, after)); diff != "" {
				t.Errorf("AttestedChanges (-want +got):\n%s", diff)
			}
		})
	}
}
