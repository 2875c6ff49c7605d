// Package columns turns vendor values into column values and back in the
// ways that every SQL engine shares, so that the engines store products,
// references and search words identically. Helpers that know no vendor type
// are in pkg/sqlstore; engine-specific encodings (timestamps, arrays) stay in
// the engine packages.
package columns

import (
	"encoding/json"
	"fmt"

	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// Tag facets of the vendor_tags table.
const (
	FacetCapability    = "capability"
	FacetCertification = "certification"
)

// product is the JSON form of a profile.Product. Explicit names keep stored
// data readable and independent of Go field names.
type product struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Maturity    int    `json:"maturity,omitempty"`
	Hosting     int    `json:"hosting,omitempty"`
	Licence     string `json:"licence,omitempty"`
	OpenSource  bool   `json:"open_source,omitempty"`
}

type reference struct {
	ClientOrganization string `json:"client_organization"`
	Year               int    `json:"year,omitempty"`
	Delivered          string `json:"delivered"`
	Outcome            string `json:"outcome,omitempty"`
}

// Products is the JSON column value of ps: always an array.
func Products(ps []profile.Product) string {
	out := make([]product, len(ps))
	for i, p := range ps {
		out[i] = product{p.Name, p.Description, int(p.Maturity), int(p.Hosting), p.Licence, p.OpenSource}
	}
	return mustJSON(out)
}

// ParseProducts reads a column written by Products.
func ParseProducts(s string) ([]profile.Product, error) {
	var in []product
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("products column: %w", err)
	}
	var out []profile.Product
	for _, p := range in {
		out = append(out, profile.Product{Name: p.Name, Description: p.Description,
			Maturity: profile.Maturity(p.Maturity), Hosting: profile.Hosting(p.Hosting),
			Licence: p.Licence, OpenSource: p.OpenSource})
	}
	return out, nil
}

// References is the JSON column value of rs: always an array.
func References(rs []profile.Reference) string {
	out := make([]reference, len(rs))
	for i, r := range rs {
		out[i] = reference{r.ClientOrganization, r.Year, r.Delivered, r.Outcome}
	}
	return mustJSON(out)
}

// ParseReferences reads a column written by References.
func ParseReferences(s string) ([]profile.Reference, error) {
	var in []reference
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("references column: %w", err)
	}
	var out []profile.Reference
	for _, r := range in {
		out = append(out, profile.Reference(r))
	}
	return out, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	return string(b)
}

// ExternalID is the column value of an external id: NULL when empty, so
// the unique index ignores vendors without one.
func ExternalID(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SearchWords splits the words of a query the way profile.Vendor.SearchText
// splits the indexed text, and drops repeats. The results are letters and
// digits only.
func SearchWords(words []string) []string {
	return sqlstore.SearchWords(words, profile.Words)
}

// Stored returns a copy of v as Get would return it after a write: times as
// sqlstore.Time keeps them and empty lists nil.
func Stored(v *profile.Vendor) *profile.Vendor {
	c := v.Clone()
	c.VerifyTime = sqlstore.Time(c.VerifyTime)
	c.CreateTime = sqlstore.Time(c.CreateTime)
	c.UpdateTime = sqlstore.Time(c.UpdateTime)
	for _, l := range []*[]string{&c.RegionsServed, &c.Languages, &c.Capabilities, &c.CPVCodes, &c.Certifications} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(c.Products) == 0 {
		c.Products = nil
	}
	if len(c.References) == 0 {
		c.References = nil
	}
	return c
}
