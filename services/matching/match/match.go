// Package match answers matching queries: ranked vendors for a need, ranked
// published needs for a vendor, a preview for an unsaved need and similar
// needs. It decides who may see what (drafts only for their owners),
// validates requests and pages through rankings; the scoring itself is
// package score's, and the data comes from an Index (the read model).
package match

import (
	"context"
	"errors"

	"github.com/govmatch/govmatch/services/matching/score"
)

// Need is a need as matching sees it.
type Need struct {
	ID string
	// OwnerOrg is the owning buyer organisation's id.
	OwnerOrg string
	// Draft needs are matched for members of OwnerOrg only.
	Draft bool
	// Published needs are the ones vendors are matched to.
	Published bool
	// Profile is what the need asks for, scored: text, codes and its
	// nice-to-have requirements.
	Profile score.Need
	// MustHave are the requirements a vendor must meet to be ranked at all.
	MustHave []Requirement
}

// RequirementKind is what a requirement asks of a vendor; the numbers are
// the needs API's.
type RequirementKind int

// The kinds of requirement.
const (
	// RequireCertification: the vendor holds the certification Value.
	RequireCertification RequirementKind = iota + 1
	// RequireCapability: the vendor lists the capability Value.
	RequireCapability
	// RequireServesRegion: the vendor serves one of Places, or Remote is
	// set and the vendor delivers remotely.
	RequireServesRegion
	// RequireOpenSource: the vendor has an open-source product.
	RequireOpenSource
	// RequireHosting: a product of the vendor is hosted as Value says
	// ("germany", "eu", "on_premises"; see Vendor.Hosting).
	RequireHosting
)

// Requirement is a must-have requirement of a need.
type Requirement struct {
	Kind RequirementKind
	// Value is the certification, capability or hosting, as the need
	// states it; empty for the other kinds.
	Value string
	// Places are the need's places of performance and Remote whether it
	// can be delivered remotely, for RequireServesRegion. No places means
	// anywhere.
	Places []string
	Remote bool
}

// LeftOut is how many vendors one must-have requirement left out.
type LeftOut struct {
	Requirement Requirement
	Count       int
}

// Vendor is a vendor as matching sees it.
type Vendor struct {
	ID string
	// Kind is the vendor's kind, e.g. "KIND_START_UP"; filters compare it
	// as an opaque name.
	Kind string
	// OpenSource is true when at least one product is open source.
	OpenSource bool
	// Remote is true when the vendor delivers remotely.
	Remote bool
	// RegionKeys are the refdata.RegionFilterKey of the regions served,
	// "DE" for a nationwide vendor.
	RegionKeys []string
	// Hosting is where the vendor's products are hosted: "germany", "eu"
	// (also for every product hosted in Germany) and "on_premises".
	Hosting []string
	// Profile is what the vendor offers.
	Profile score.Vendor
}

// Index is the read model the service answers from. Ranking one side
// against the other uses score's exported API only.
type Index interface {
	// Need returns the need with id, drafts included.
	Need(id string) (Need, bool)
	// Vendor returns the vendor with id.
	Vendor(id string) (Vendor, bool)
	// RankVendors ranks the vendors for n.
	RankVendors(n score.Need, k int, f score.Filters) ([]score.Result, error)
	// RankNeeds ranks the published needs for q, which is a need's or a
	// vendor's profile as a query; Result.VendorID holds the need's id.
	RankNeeds(q score.Need, k int, f score.Filters) ([]score.Result, error)
	// WeightsVersion is the version of the weights both rankings use.
	WeightsVersion() string
	// Ready reports whether the index holds the registries' state; before
	// that an answer would silently leave vendors out.
	Ready() bool
	// EachVendor calls fn for every ranked vendor, in no particular order,
	// until fn returns false. fn must not call the Index.
	EachVendor(fn func(Vendor) bool)
}

// Filters restrict results.
type Filters struct {
	// VendorKinds keeps vendors of one of these kinds.
	VendorKinds []string
	// Regions keeps vendors serving, or needs performed in, one of these.
	Regions []string
	// OpenSource keeps vendors with an open-source product.
	OpenSource bool
	// Certifications keeps vendors that hold all of these.
	Certifications []string
}

// Query is the paging and filtering of a request.
type Query struct {
	// PageSize is 1 to 100; 0 means DefaultPageSize.
	PageSize  int
	PageToken string
	Filters   Filters
}

// Result is one ranked vendor or need.
type Result struct {
	// ID is the vendor's or need's id.
	ID          string
	Score       float64
	Explanation score.Explanation
}

// Page is one page of results.
type Page struct {
	Results        []Result
	NextPageToken  string
	WeightsVersion string
	// LeftOut counts, for each must-have requirement of the need in its
	// order, the vendors that lack it; a vendor lacking two counts under
	// both. LeftOutTotal is the number of distinct vendors left out. Both
	// are for vendor rankings only and ignore the Filters.
	LeftOut      []LeftOut
	LeftOutTotal int
	// ETag, when set, names this page's content: every page a Ranker
	// answers with the same ETag is the same page. Only a Ranker that can
	// promise that sets it (matchcache, for pages of a known content
	// digest); it is not part of the content.
	ETag string `json:"-"`
}

// Ranker is what the gRPC server calls; *Service implements it.
//
// A Ranker that sets Page.ETag may answer a context that carries, through
// WithIfNoneMatch, the ETag of the page it would return with that ETag
// alone and ErrNotModified: the caller holds the page already.
type Ranker interface {
	NeedMatches(ctx context.Context, needID string, q Query) (Page, error)
	VendorMatches(ctx context.Context, vendorID string, q Query) (Page, error)
	Preview(ctx context.Context, n Need, q Query) (Page, error)
	SimilarNeeds(ctx context.Context, needID string, q Query) (Page, error)
}

// ErrNotModified is a Ranker's answer when the caller holds the page it
// would return (see Ranker). It is not a failure.
var ErrNotModified = errors.New("match: not modified")

type ifNoneMatchKey struct{}

// WithIfNoneMatch returns ctx carrying the ETag of a page the caller
// holds.
func WithIfNoneMatch(ctx context.Context, etag string) context.Context {
	if etag == "" {
		return ctx
	}
	return context.WithValue(ctx, ifNoneMatchKey{}, etag)
}

// IfNoneMatch returns the ETag WithIfNoneMatch put into ctx, or "".
func IfNoneMatch(ctx context.Context) string {
	s, _ := ctx.Value(ifNoneMatchKey{}).(string)
	return s
}
