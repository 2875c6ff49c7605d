package profile

import (
	"fmt"
	"strings"
	"testing"

	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
)

// TestEnumNamesAreTheAPIs: the audit trail names enum values as the API
// does, prefix aside, and a number without a name says what it is.
func TestEnumNamesAreTheAPIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		count  int
		name   func(int) string
		api    func(int) string
	}{
		{"KIND_", 7, func(i int) string { return Kind(i).String() }, func(i int) string { return vendorsv1.Vendor_Kind(i).String() }},
		{"SIZE_BAND_", 5, func(i int) string { return SizeBand(i).String() }, func(i int) string { return vendorsv1.Vendor_SizeBand(i).String() }},
		{"VERIFICATION_STATUS_", 4, func(i int) string { return Verification(i).String() }, func(i int) string { return vendorsv1.Vendor_VerificationStatus(i).String() }},
		{"MATURITY_", 4, func(i int) string { return Maturity(i).String() }, func(i int) string { return vendorsv1.Product_Maturity(i).String() }},
		{"HOSTING_", 5, func(i int) string { return Hosting(i).String() }, func(i int) string { return vendorsv1.Product_Hosting(i).String() }},
	}
	for _, tt := range tests {
		for i := range tt.count {
			if got, want := tt.prefix+tt.name(i), tt.api(i); got != want {
				t.Errorf("%s%d: %s, the API says %s", tt.prefix, i, got, want)
			}
		}
		if got := tt.name(tt.count); !strings.HasSuffix(got, fmt.Sprintf("(%d)", tt.count)) {
			t.Errorf("%s%d: %q, want a type name and the number", tt.prefix, tt.count, got)
		}
	}
}
