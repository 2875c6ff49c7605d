package need

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/pagetoken"
	"github.com/govmatch/govmatch/pkg/refdata"
)

// ListRequest is what a caller asks of ListNeeds, before validation.
type ListRequest struct {
	PageSize     int
	PageToken    string
	States       []State
	CPVCodes     []string
	Regions      []string
	Organization string
	Query        string
	OrderBy      string
}

// pageToken is the opaque token handed to clients: the last position and a
// fingerprint of the filters, so a token cannot be replayed with other ones.
type pageToken struct {
	CreateTime int64  `json:"t"`
	ID         string `json:"i"`
	Filter     string `json:"f"`
}

// List returns one page of the needs the caller may see and the token of
// the next page ("" on the last).
func (s *Service) List(ctx context.Context, r ListRequest) ([]*Need, string, error) {
	p := identity.FromContext(ctx)
	q, fingerprint, err := buildQuery(r)
	if err != nil {
		return nil, "", err
	}
	q.ViewerOrg = p.Org
	q.AllDrafts = p.IsAdmin()
	limit := q.Limit
	q.Limit = limit + 1 // one more tells whether a next page exists
	needs, err := s.store.List(ctx, q)
	if err != nil {
		return nil, "", err
	}
	if len(needs) <= limit {
		return needs, "", nil
	}
	needs = needs[:limit]
	last := needs[limit-1]
	next, err := pagetoken.Encode(pageToken{CreateTime: last.CreateTime.UnixMicro(), ID: last.ID, Filter: fingerprint})
	return needs, next, err
}

// buildQuery validates a list request and turns it into a store query.
func buildQuery(r ListRequest) (ListQuery, string, error) {
	var v errdefs.Violations
	q := ListQuery{Limit: r.PageSize}
	switch {
	case r.PageSize == 0:
		q.Limit = DefaultPageSize
	case r.PageSize < 0 || r.PageSize > MaxPageSize:
		v.Add("page_size", "must be between 0 and %d, got %d", MaxPageSize, r.PageSize)
	}
	if len(r.States) > MaxFilterValues || len(r.CPVCodes) > MaxFilterValues || len(r.Regions) > MaxFilterValues {
		v.Add("filter", "at most %d values per filter", MaxFilterValues)
		return q, "", v.Err()
	}
	for i, st := range r.States {
		if !st.Valid() {
			v.Add(indexed("states", i), "unknown state %d", int(st))
			continue
		}
		if !slices.Contains(q.States, st) {
			q.States = append(q.States, st)
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
	for i, reg := range r.Regions {
		key, err := refdata.RegionFilterKey(reg)
		if err != nil {
			v.Add(indexed("regions", i), "%s", err.Error())
			continue
		}
		q.RegionKeys = append(q.RegionKeys, key)
	}
	if r.Organization != "" {
		if err := identity.ValidOrgID(r.Organization); err != nil {
			v.Add("organization", "%s", err.Error())
		}
		q.Organization = r.Organization
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

// filterFingerprint hashes everything that selects or orders needs.
func filterFingerprint(q ListQuery) string {
	return pagetoken.Fingerprint(struct {
		S []State
		C []string
		R []string
		O string
		W []string
		A bool
	}{q.States, q.CPVPrefixes, q.RegionKeys, q.Organization, q.Words, q.Ascending})
}
