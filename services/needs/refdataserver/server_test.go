package refdataserver

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	refdatav1 "github.com/govmatch/govmatch/proto/govmatch/refdata/v1"
)

func TestGetCpvCode(t *testing.T) {
	t.Parallel()
	got, err := New().GetCpvCode(context.Background(), &refdatav1.GetCpvCodeRequest{Name: "cpvCodes/72212000-4"})
	if err != nil {
		t.Fatal(err)
	}
	want := &refdatav1.CpvCode{
		Name: "cpvCodes/72212000", Code: "72212000", CheckDigit: "4",
		NameDe: "Programmierung von Anwendersoftware", NameEn: "Programming services of application software",
		Level: refdatav1.CpvCode_LEVEL_CATEGORY,
		Parents: []*refdatav1.CpvCodeSummary{
			{Name: "cpvCodes/72210000", Code: "72210000", CheckDigit: "0", NameDe: "Programmierung von Softwarepaketen", NameEn: "Programming services of packaged software products", Level: refdatav1.CpvCode_LEVEL_CLASS},
			{Name: "cpvCodes/72200000", Code: "72200000", CheckDigit: "7", NameDe: "Softwareprogrammierung und -beratung", NameEn: "Software programming and consultancy services", Level: refdatav1.CpvCode_LEVEL_GROUP},
			{Name: "cpvCodes/72000000", Code: "72000000", CheckDigit: "5", NameDe: "IT-Dienste: Beratung, Software-Entwicklung, Internet und Hilfestellung", NameEn: "IT services: consulting, software development, Internet and support", Level: refdatav1.CpvCode_LEVEL_DIVISION},
		},
	}
	got.Children = got.Children[:0]
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&refdatav1.CpvCode{}, "children")); diff != "" {
		t.Errorf("GetCpvCode (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := New()
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func() error
		notFound bool
		field    string
	}{
		{"unknown code", func() error {
			_, err := s.GetCpvCode(ctx, &refdatav1.GetCpvCodeRequest{Name: "cpvCodes/99999999"})
			return err
		}, true, ""},
		{"wrong check digit", func() error {
			_, err := s.GetCpvCode(ctx, &refdatav1.GetCpvCodeRequest{Name: "cpvCodes/72212000-9"})
			return err
		}, false, "name"},
		{"wrong collection", func() error {
			_, err := s.GetCpvCode(ctx, &refdatav1.GetCpvCodeRequest{Name: "needs/72212000"})
			return err
		}, false, "name"},
		{"unknown region", func() error {
			_, err := s.GetRegion(ctx, &refdatav1.GetRegionRequest{Name: "regions/DE99"})
			return err
		}, true, ""},
		{"malformed region", func() error { _, err := s.GetRegion(ctx, &refdatav1.GetRegionRequest{Name: "regions/065"}); return err }, false, "name"},
		{"unknown kind", func() error { _, err := s.ListRegions(ctx, &refdatav1.ListRegionsRequest{Kind: 99}); return err }, false, "kind"},
		{"country kind", func() error {
			_, err := s.ListRegions(ctx, &refdatav1.ListRegionsRequest{Kind: refdatav1.Region_KIND_COUNTRY})
			return err
		}, false, "kind"},
		{"page size", func() error { _, err := s.ListCpvCodes(ctx, &refdatav1.ListCpvCodesRequest{PageSize: 101}); return err }, false, "page_size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call()
			var ve *errdefs.ValidationError
			switch {
			case tc.notFound && !errors.Is(err, errdefs.ErrNotFound):
				t.Errorf("error %v, want not found", err)
			case !tc.notFound && (!errors.As(err, &ve) || ve.Violations[0].Field != tc.field):
				t.Errorf("error %v, want a violation of %s", err, tc.field)
			}
		})
	}
}

func TestListRegionsConverts(t *testing.T) {
	t.Parallel()
	resp, err := New().ListRegions(context.Background(), &refdatav1.ListRegionsRequest{Query: "DE7", Kind: refdatav1.Region_KIND_LAND})
	if err != nil {
		t.Fatal(err)
	}
	want := &refdatav1.ListRegionsResponse{
		Regions: []*refdatav1.Region{{
			Name: "regions/DE7", Code: "DE7", Kind: refdatav1.Region_KIND_LAND, DisplayName: "Hessen",
			LandAgs: "06", LandDisplayName: "Hessen", Nuts1Code: "DE7",
		}},
		TotalSize: 1,
	}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("ListRegions (-want +got):\n%s", diff)
	}
}
