package grpcserver

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// The domain's enum numbers equal the API's; TestEnumsMatch keeps it so.

// fieldsFromProto takes the writable fields of a vendor. Output-only fields
// (including products' open_source) are ignored, as AIP-203 asks.
func fieldsFromProto(p *vendorsv1.Vendor) profile.Fields {
	f := profile.Fields{
		DisplayName:    p.GetDisplayName(),
		Kind:           profile.Kind(p.GetKind()),
		FoundingYear:   int(p.GetFoundingYear()),
		SizeBand:       profile.SizeBand(p.GetSizeBand()),
		Headquarters:   p.GetHeadquarters(),
		RegionsServed:  p.GetRegionsServed(),
		Nationwide:     p.GetNationwide(),
		Remote:         p.GetRemote(),
		Languages:      p.GetLanguages(),
		Website:        p.GetWebsite(),
		Description:    p.GetDescription(),
		Capabilities:   p.GetCapabilities(),
		CPVCodes:       p.GetCpvCodes(),
		Certifications: p.GetCertifications(),
	}
	for _, pr := range p.GetProducts() {
		f.Products = append(f.Products, profile.Product{
			Name:        pr.GetDisplayName(),
			Description: pr.GetDescription(),
			Maturity:    profile.Maturity(pr.GetMaturity()),
			Hosting:     profile.Hosting(pr.GetHosting()),
			Licence:     pr.GetLicence(),
		})
	}
	for _, r := range p.GetReferences() {
		f.References = append(f.References, profile.Reference{
			ClientOrganization: r.GetClientOrganization(),
			Year:               int(r.GetYear()),
			Delivered:          r.GetDelivered(),
			Outcome:            r.GetOutcome(),
		})
	}
	return f
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// ToProto is the API form of a vendor. The vendor's domain events
// (vendorevents) carry it too, so that events and API agree.
func ToProto(v *profile.Vendor) *vendorsv1.Vendor {
	p := &vendorsv1.Vendor{
		Name:               namePrefix + v.ID,
		DisplayName:        v.DisplayName,
		Kind:               vendorsv1.Vendor_Kind(v.Kind),
		FoundingYear:       int32(v.FoundingYear),
		SizeBand:           vendorsv1.Vendor_SizeBand(v.SizeBand),
		Headquarters:       v.Headquarters,
		RegionsServed:      v.RegionsServed,
		Nationwide:         v.Nationwide,
		Remote:             v.Remote,
		Languages:          v.Languages,
		Website:            v.Website,
		Description:        v.Description,
		Capabilities:       v.Capabilities,
		CpvCodes:           v.CPVCodes,
		Certifications:     v.Certifications,
		VerificationStatus: vendorsv1.Vendor_VerificationStatus(v.Verification),
		VerificationNote:   v.VerificationNote,
		VerifyTime:         timeToProto(v.VerifyTime),
		OwnerOrganization:  v.OwnerOrg,
		ExternalId:         v.ExternalID,
		CreateTime:         timeToProto(v.CreateTime),
		UpdateTime:         timeToProto(v.UpdateTime),
		Etag:               v.ETag(),
	}
	for _, pr := range v.Products {
		p.Products = append(p.Products, &vendorsv1.Product{
			DisplayName: pr.Name,
			Description: pr.Description,
			Maturity:    vendorsv1.Product_Maturity(pr.Maturity),
			Hosting:     vendorsv1.Product_Hosting(pr.Hosting),
			Licence:     pr.Licence,
			OpenSource:  pr.OpenSource,
		})
	}
	for _, r := range v.References {
		p.References = append(p.References, &vendorsv1.Reference{
			ClientOrganization: r.ClientOrganization,
			Year:               int32(r.Year),
			Delivered:          r.Delivered,
			Outcome:            r.Outcome,
		})
	}
	return p
}
