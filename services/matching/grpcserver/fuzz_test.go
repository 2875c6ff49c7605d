package grpcserver

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
)

// A preview's need is either refused with violations of named need fields,
// or accepted with every code and place in canonical form; the caller's
// message is never changed.
func FuzzPreviewNeed(f *testing.F) {
	f.Add("Terminbuchung", "72212000-4", "de111", int32(1), "ISO 27001", true)
	f.Add("", "72212000-1", "XX9", int32(3), "mars", false)
	f.Add("x", " 7221200", "06531005", int32(99), "", true)
	f.Fuzz(func(t *testing.T, title, code, place string, kind int32, value string, must bool) {
		in := &needsv1.Need{
			Title: title, CpvCodes: []string{code, code}, PlacesOfPerformance: []string{place},
			Requirements: []*needsv1.Requirement{{Kind: needsv1.Requirement_Kind(kind), Value: value, MustHave: must}},
		}
		orig := proto.Clone(in)
		out, err := previewNeed(in)
		if !proto.Equal(in, orig) {
			t.Fatalf("previewNeed changed its input: %v", in)
		}
		if err != nil {
			var ve *errdefs.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("error without violations: %v", err)
			}
			for _, v := range ve.Violations {
				if !strings.HasPrefix(v.Field, "need.") || v.Description == "" {
					t.Fatalf("violation %+v does not name a need field", v)
				}
			}
			return
		}
		for _, c := range out.GetCpvCodes() {
			if _, ok := refdata.LookupCPV(c); !ok || len(c) != 8 {
				t.Fatalf("accepted code %q is not canonical", c)
			}
		}
		for _, p := range out.GetPlacesOfPerformance() {
			if _, ok := refdata.LookupRegion(p); !ok {
				t.Fatalf("accepted place %q is not canonical", p)
			}
		}
	})
}
