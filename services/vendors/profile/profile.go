// Package profile is the vendor registry's domain: what a vendor profile is,
// which changes are allowed, who may make them, and what the store must
// keep. It knows nothing of gRPC, protobuf or SQL.
//
// The package is not called "vendor" because the go command treats
// directories of that name as vendored dependencies: "./..." skips them, so
// its tests would silently never run.
package profile

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what sort of organisation a vendor is. The numbers are stable:
// stores persist them, and they equal the API's enum numbers.
type Kind int

// The kinds of vendor.
const (
	KindUnspecified Kind = iota
	KindStartUp
	KindCivicTech
	KindSME
	KindNGO
	KindResearchInstitution
	KindOther
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k > KindUnspecified && k <= KindOther }

// String is the kind's name as the API spells it without its prefix
// ("CIVIC_TECH"), so that the audit trail shows words, not numbers.
func (k Kind) String() string {
	return enumName([]string{"UNSPECIFIED", "START_UP", "CIVIC_TECH", "SME", "NGO", "RESEARCH_INSTITUTION", "OTHER"}, "Kind", int(k))
}

// SizeBand is a vendor's number of employees in the bands of the EU SME
// definition.
type SizeBand int

// The size bands; SizeUnspecified means "not stated".
const (
	SizeUnspecified SizeBand = iota
	SizeMicro                // 1–9
	SizeSmall                // 10–49
	SizeMedium               // 50–249
	SizeLarge                // 250+
)

// Valid reports whether b is a defined band or unspecified.
func (b SizeBand) Valid() bool { return b >= SizeUnspecified && b <= SizeLarge }

func (b SizeBand) String() string {
	return enumName([]string{"UNSPECIFIED", "MICRO", "SMALL", "MEDIUM", "LARGE"}, "SizeBand", int(b))
}

// Maturity is how far a product is.
type Maturity int

// The maturities; MaturityUnspecified means "not stated".
const (
	MaturityUnspecified Maturity = iota
	MaturityPrototype
	MaturityPilotReady
	MaturityInProduction
)

// Valid reports whether m is a defined maturity or unspecified.
func (m Maturity) Valid() bool { return m >= MaturityUnspecified && m <= MaturityInProduction }

func (m Maturity) String() string {
	return enumName([]string{"UNSPECIFIED", "PROTOTYPE", "PILOT_READY", "IN_PRODUCTION"}, "Maturity", int(m))
}

// Hosting is where a product runs.
type Hosting int

// The hosting places; HostingUnspecified means "not stated".
const (
	HostingUnspecified Hosting = iota
	HostingGermany
	HostingEU
	HostingOnPremises
	HostingOther
)

// Valid reports whether h is a defined hosting place or unspecified.
func (h Hosting) Valid() bool { return h >= HostingUnspecified && h <= HostingOther }

func (h Hosting) String() string {
	return enumName([]string{"UNSPECIFIED", "GERMANY", "EU", "ON_PREMISES", "OTHER"}, "Hosting", int(h))
}

// Verification is the outcome of an admin's check of a vendor.
type Verification int

// The verification statuses. Every vendor starts Unverified.
const (
	VerificationUnspecified Verification = iota
	Unverified
	Verified
	Rejected
)

func (v Verification) String() string {
	return enumName([]string{"UNSPECIFIED", "UNVERIFIED", "VERIFIED", "REJECTED"}, "Verification", int(v))
}

// enumName is names[v], or typ(v) for a number without a name.
func enumName(names []string, typ string, v int) string {
	if v < 0 || v >= len(names) {
		return typ + "(" + strconv.Itoa(v) + ")"
	}
	return names[v]
}

// Product is a product or service a vendor offers.
type Product struct {
	Name        string
	Description string
	Maturity    Maturity
	Hosting     Hosting
	// Licence is an SPDX licence expression in SPDX's canonical spelling
	// after validation; empty when not stated.
	Licence string
	// OpenSource is derived from Licence by validation (see OpenSource);
	// what a caller sets is ignored.
	OpenSource bool
}

// Reference is work a vendor did for a public-sector client.
type Reference struct {
	ClientOrganization string
	Year               int // 0: not stated
	Delivered          string
	Outcome            string
}

// Fields are the parts of a vendor its editors write.
type Fields struct {
	DisplayName    string
	Kind           Kind
	FoundingYear   int // 0: not stated
	SizeBand       SizeBand
	Headquarters   string   // 8-digit AGS, or empty
	RegionsServed  []string // canonical codes after validation (see ServedRegion)
	Nationwide     bool
	Remote         bool
	Languages      []string // ISO 639-1, lower case
	Website        string
	Description    string
	Capabilities   []string // normalised tags after validation
	CPVCodes       []string // canonical 8-digit codes after validation
	Products       []Product
	References     []Reference
	Certifications []string // normalised tags after validation
}

// Clone returns a deep copy of f.
func (f Fields) Clone() Fields {
	f.RegionsServed = slices.Clone(f.RegionsServed)
	f.Languages = slices.Clone(f.Languages)
	f.Capabilities = slices.Clone(f.Capabilities)
	f.CPVCodes = slices.Clone(f.CPVCodes)
	f.Products = slices.Clone(f.Products)
	f.References = slices.Clone(f.References)
	f.Certifications = slices.Clone(f.Certifications)
	return f
}

// Vendor is an organisation that offers solutions to the public sector.
type Vendor struct {
	ID string
	Fields
	// ExternalID is the importer's key, unique among vendors; empty when the
	// vendor was not imported with one.
	ExternalID string
	// OwnerOrg may edit the vendor besides the vendor's own organisation
	// (the one whose id is ID).
	OwnerOrg         string
	Verification     Verification
	VerificationNote string
	VerifyTime       time.Time
	CreateTime       time.Time
	UpdateTime       time.Time
	// Revision counts writes; it backs the etag.
	Revision int64
}

// ETag identifies this revision of the vendor for optimistic concurrency.
func (v *Vendor) ETag() string { return "r" + strconv.FormatInt(v.Revision, 10) }

// Clone returns a deep copy.
func (v *Vendor) Clone() *Vendor {
	c := *v
	c.Fields = v.Fields.Clone()
	return &c
}

// HasOpenSourceProduct reports whether one of the products is open source.
func (v *Vendor) HasOpenSourceProduct() bool {
	return slices.ContainsFunc(v.Products, func(p Product) bool { return p.OpenSource })
}

// SearchText is what free-text search looks in: the lower-cased words of the
// name, description, capabilities and product names and descriptions.
// Stores index this text rather than the raw fields, so both engines
// tokenise and fold case the same way, in Go.
func (v *Vendor) SearchText() string {
	parts := []string{v.DisplayName, v.Description}
	parts = append(parts, v.Capabilities...)
	for _, p := range v.Products {
		parts = append(parts, p.Name, p.Description)
	}
	return strings.Join(Words(strings.Join(parts, " ")), " ")
}

// RegionKeys are the match keys of the regions served, for stores to index:
// every region that contains a served region (Self false), and each served
// region's own key (Self true). See MatchRegions for how a filter uses them.
func (v *Vendor) RegionKeys() []RegionKey {
	seen := make(map[RegionKey]bool)
	var keys []RegionKey
	for _, code := range v.RegionsServed {
		self := regionKey(code)
		for _, k := range upKeys(code) {
			rk := RegionKey{Key: k, Self: k == self}
			if !seen[rk] {
				seen[rk] = true
				keys = append(keys, rk)
			}
		}
	}
	return keys
}
