package profile

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/pagetoken"
	"github.com/govmatch/govmatch/pkg/refdata"
)

// ListRequest is what a caller asks of ListVendors, before validation.
type ListRequest struct {
	PageSize       int
	PageToken      string
	Kinds          []Kind
	CPVCodes       []string
	Regions        []string
	Capabilities   []string
	Certifications []string
	OpenSource     bool
	Query          string
	OrderBy        string
}

// pageToken is the opaque token handed to clients: the last position and a
// fingerprint of the filters, so a token cannot be replayed with other ones.
type pageToken struct {
	CreateTime int64  `json:"t"`
	ID         string `json:"i"`
	Filter     string `json:"f"`
}

// List returns one page of vendors and the token of the next page ("" on
// the last). Profiles are public: every caller sees the same list.
func (s *Service) List(ctx context.Context, r ListRequest) ([]*Vendor, string, error) {
	q, fingerprint, err := buildQuery(r)
	if err != nil {
		return nil, "", err
	}
	limit := q.Limit
	q.Limit = limit + 1 // one more tells whether a next page exists
	vendors, err := s.store.List(ctx, q)
	if err != nil {
		return nil, "", err
	}
	if len(vendors) <= limit {
		return vendors, "", nil
	}
	vendors = vendors[:limit]
	last := vendors[limit-1]
	next, err := pagetoken.Encode(pageToken{CreateTime: last.CreateTime.UnixMicro(), ID: last.ID, Filter: fingerprint})
	return vendors, next, err
}

// buildQuery validates a list request and turns it into a store query.
func buildQuery(r ListRequest) (ListQuery, string, error) {
	var v errdefs.Violations
	q := ListQuery{Limit: r.PageSize, OpenSource: r.OpenSource}
	switch {
	case r.PageSize == 0:
		q.Limit = DefaultPageSize
	case r.PageSize < 0 || r.PageSize > MaxPageSize:
		v.Add("page_size", "must be between 0 and %d, got %d", MaxPageSize, r.PageSize)
	}
	for _, l := range []struct {
		field string
		n     int
	}{
		{"kinds", len(r.Kinds)}, {"cpv_codes", len(r.CPVCodes)}, {"regions", len(r.Regions)},
		{"capabilities", len(r.Capabilities)}, {"certifications", len(r.Certifications)},
	} {
		if l.n > MaxFilterValues {
			v.Add(l.field, "at most %d values per filter, got %d", MaxFilterValues, l.n)
		}
	}
	if err := v.Err(); err != nil {
		return q, "", err
	}
	for i, k := range r.Kinds {
		if !k.Valid() {
			v.Add(indexed("kinds", i), "unknown kind %d", int(k))
			continue
		}
		if !slices.Contains(q.Kinds, k) {
			q.Kinds = append(q.Kinds, k)
		}
	}
	for i, c := range r.CPVCodes {
		code, err := refdata.NormalizeCPV(c)
		if err != nil {
			v.Add(indexed("cpv_codes", i), "%s", err.Error())
			continue
		}
		q.CPVPrefixes = append(q.CPVPrefixes, refdata.CPVPrefix(code))
	}
	var regionKeys []string
	for i, reg := range r.Regions {
		key, err := refdata.RegionFilterKey(reg)
		if err != nil {
			v.Add(indexed("regions", i), "%s", err.Error())
			continue
		}
		regionKeys = append(regionKeys, key)
	}
	q.Regions = matchRegions(regionKeys)
	q.Capabilities = normalizeList(&v, "capabilities", r.Capabilities, MaxFilterValues, normalizeTag)
	q.Certifications = normalizeList(&v, "certifications", r.Certifications, MaxFilterValues, normalizeTag)
	if len(q.Capabilities) == 0 {
		q.Capabilities = nil
	}
	if len(q.Certifications) == 0 {
		q.Certifications = nil
	}
	switch {
	case !utf8.ValidString(r.Query):
		v.Add("query", "must be valid UTF-8")
	case utf8.RuneCountInString(r.Query) > MaxQueryLen:
		v.Add("query", "must be at most %d characters", MaxQueryLen)
	default:
		q.Words = Words(r.Query)
		if len(q.Words) > MaxQueryWords {
			v.Add("query", "must have at most %d words, got %d", MaxQueryWords, len(q.Words))
		}
	}
	switch strings.Join(strings.Fields(strings.ToLower(r.OrderBy)), " ") {
	case "", "create_time desc":
	case "create_time", "create_time asc":
		q.Ascending = true
	default:
		v.Add("order_by", `must be "create_time desc" or "create_time", got %q`, r.OrderBy)
	}
	if err := v.Err(); err != nil {
		return q, "", err
	}

	fingerprint := filterFingerprint(q)
	if r.PageToken != "" {
		var tok pageToken
		err := pagetoken.Decode(r.PageToken, &tok)
		switch {
		case err != nil || tok.ID == "":
			return q, "", errdefs.Invalid("page_token", "is not a token this service issued")
		case tok.Filter != fingerprint:
			return q, "", errdefs.Invalid("page_token", "was issued for other filters; keep filters and order the same between pages")
		}
		q.After = &Cursor{CreateTime: time.UnixMicro(tok.CreateTime).UTC(), ID: tok.ID}
	}
	return q, fingerprint, nil
}

// filterFingerprint hashes everything that selects or orders vendors.
func filterFingerprint(q ListQuery) string {
	return pagetoken.Fingerprint(struct {
		K    []Kind
		C    []string
		R    *RegionMatch
		Cap  []string
		Cert []string
		O    bool
		W    []string
		A    bool
	}{q.Kinds, q.CPVPrefixes, q.Regions, q.Capabilities, q.Certifications, q.OpenSource, q.Words, q.Ascending})
}
