package refdataserver

import (
	"github.com/govmatch/govmatch/pkg/refdata"
	refdatav1 "github.com/govmatch/govmatch/proto/govmatch/refdata/v1"
	"github.com/govmatch/govmatch/services/needs/refsearch"
)

var levels = map[refdata.CPVLevel]refdatav1.CpvCode_Level{
	refdata.Division:    refdatav1.CpvCode_LEVEL_DIVISION,
	refdata.Group:       refdatav1.CpvCode_LEVEL_GROUP,
	refdata.Class:       refdatav1.CpvCode_LEVEL_CLASS,
	refdata.Category:    refdatav1.CpvCode_LEVEL_CATEGORY,
	refdata.Subcategory: refdatav1.CpvCode_LEVEL_SUBCATEGORY,
}

func cpvToProto(c refdata.CPVCode) *refdatav1.CpvCode {
	return &refdatav1.CpvCode{
		Name:       cpvPrefix + c.Code,
		Code:       c.Code,
		CheckDigit: c.CheckDigit,
		NameDe:     c.NameDE,
		NameEn:     c.NameEN,
		Level:      levels[refdata.LevelOfCPV(c.Code)],
	}
}

func summaryToProto(c refdata.CPVCode) *refdatav1.CpvCodeSummary {
	return &refdatav1.CpvCodeSummary{
		Name:       cpvPrefix + c.Code,
		Code:       c.Code,
		CheckDigit: c.CheckDigit,
		NameDe:     c.NameDE,
		NameEn:     c.NameEN,
		Level:      levels[refdata.LevelOfCPV(c.Code)],
	}
}

// kinds maps the API's region kinds to refdata's, in both directions; the
// numbers differ on purpose (the API has no use for refdata's order).
var kinds = map[refdatav1.Region_Kind]refdata.RegionKind{
	refdatav1.Region_KIND_UNSPECIFIED:  0,
	refdatav1.Region_KIND_COUNTRY:      refdata.Country,
	refdatav1.Region_KIND_LAND:         refdata.Land,
	refdatav1.Region_KIND_NUTS2:        refdata.NUTS2,
	refdatav1.Region_KIND_NUTS3:        refdata.NUTS3,
	refdatav1.Region_KIND_MUNICIPALITY: refdata.Municipality,
}

func kindFromProto(k refdatav1.Region_Kind) (refdata.RegionKind, bool) {
	rk, ok := kinds[k]
	return rk, ok
}

func kindToProto(k refdata.RegionKind) refdatav1.Region_Kind {
	for pk, rk := range kinds {
		if rk == k {
			return pk
		}
	}
	return refdatav1.Region_KIND_UNSPECIFIED
}

func regionToProto(d refsearch.RegionDetail) *refdatav1.Region {
	r := d.Region
	p := &refdatav1.Region{
		Name:            regionPrefix + r.Code,
		Code:            r.Code,
		Kind:            kindToProto(r.Kind),
		DisplayName:     r.Name,
		LandAgs:         r.LandAGS,
		LandDisplayName: d.LandName,
		Nuts1Code:       r.NUTS1,
		Postcode:        d.Stats.Postcode,
		Population:      int64(d.Stats.Population),
	}
	if p.LandDisplayName == "" && r.NUTS1 != "" {
		if l, ok := refdata.LookupRegion(r.NUTS1); ok {
			p.LandDisplayName = l.Name
		}
	}
	return p
}
