// Package match answers matching queries: ranked vendors for a need, ranked
// published needs for a vendor, a preview for an unsaved need and similar
// needs. It decides who may see what (drafts only for their owners),
// validates requests and pages through rankings; the scoring itself is
// package score's, and the data comes from an Index (the read model).
package match

import (
	"context"

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
	// Profile is what the need asks for.
	Profile score.Need
}

// Vendor is a vendor as matching sees it.
type Vendor struct {
	ID string
	// Kind is the vendor's kind, e.g. "KIND_START_UP"; filters compare it
	// as an opaque name.
	Kind string
	// OpenSource is true when at least one product is open source.
	OpenSource bool
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
	// Counts are the numbers of vendors and of published needs indexed.
	Counts() (vendors, needs int)
	// WeightsVersion is the version of the weights both rankings use.
	WeightsVersion() string
	// Ready reports whether the index holds the registries' state; before
	// that an answer would silently leave vendors out.
	Ready() bool
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
}

// Ranker is what the gRPC server calls; *Service implements it.
type Ranker interface {
	NeedMatches(ctx context.Context, needID string, q Query) (Page, error)
	VendorMatches(ctx context.Context, vendorID string, q Query) (Page, error)
	Preview(ctx context.Context, n score.Need, q Query) (Page, error)
	SimilarNeeds(ctx context.Context, needID string, q Query) (Page, error)
}
