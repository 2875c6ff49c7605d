package audit

import (
	"context"
	"time"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/pagetoken"
)

// MaxPageSize bounds a page of entries; an export reads page after page.
const MaxPageSize = 1000

// DefaultPageSize is the page size of a request that names none.
const DefaultPageSize = 20

// pageToken is the position after the last entry of a page, bound to the
// parent it lists.
type pageToken struct {
	Time     int64  `json:"t"`
	Resource string `json:"r"`
	Seq      int64  `json:"s"`
	Parent   string `json:"p"`
}

// ReadPage reads the page of q that pageSize (0: DefaultPageSize) and
// pageToken ask for, with list, and returns it with the next page's token
// (empty on the last page). parent is what the token is bound to. Bad
// sizes and tokens are validation errors naming page_size and page_token.
func ReadPage(ctx context.Context, list func(context.Context, Query) ([]Entry, error), q Query, parent string, pageSize int, token string) ([]Entry, string, error) {
	var v errdefs.Violations
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize < 0 || pageSize > MaxPageSize:
		v.Add("page_size", "must be between 0 and %d, got %d", MaxPageSize, pageSize)
	}
	if token != "" {
		var tok pageToken
		if err := pagetoken.Decode(token, &tok); err != nil || tok.Parent != parent {
			v.Add("page_token", "is not a token this service issued for this parent")
		} else {
			q.After = &Cursor{Time: time.UnixMicro(tok.Time).UTC(), Resource: tok.Resource, Seq: tok.Seq}
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	q.Limit = pageSize + 1
	es, err := list(ctx, q)
	if err != nil || len(es) <= pageSize {
		return es, "", err
	}
	es = es[:pageSize]
	last := es[len(es)-1]
	next, err := pagetoken.Encode(pageToken{Time: last.Time.UnixMicro(), Resource: last.Resource, Seq: last.Seq, Parent: parent})
	return es, next, err
}
