// Package refsearch finds CPV codes and German regions for people writing a
// need: by words in German or English, by code or by code prefix, ranked so
// that what they most likely mean comes first. It searches the embedded
// reference data of pkg/refdata with small in-memory indexes, built once on
// first use, and never sees protobuf types.
package refsearch

import (
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/pagetoken"
)

// Limits of a list request.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxQueryLen is in characters; nobody types a longer search.
	MaxQueryLen = 200
	// MaxQueryWords bounds the work per query.
	MaxQueryWords = 10
)

// Page is one page of ranked results.
type Page[T any] struct {
	Items []T
	// NextPageToken is "" on the last page.
	NextPageToken string
	// TotalSize is the number of results on all pages.
	TotalSize int
}

// pageToken is the opaque token handed to clients: where the next page
// starts and a fingerprint of the query, so a token cannot be used with
// another one. The data is embedded and never changes while a process
// runs, so an offset is a stable position.
type pageToken struct {
	Offset int    `json:"o"`
	Query  string `json:"q"`
}

// fingerprint names a normalised query and everything else that selects
// or orders results, so that "Software" and "software " share tokens.
func fingerprint(parts ...string) string {
	return pagetoken.Fingerprint(parts)
}

// checkCommon validates page size and query, adding violations to v. It
// returns the page size to use.
func checkCommon(v *errdefs.Violations, pageSize int, query string) int {
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize < 0 || pageSize > MaxPageSize:
		v.Add("page_size", "must be between 0 and %d, got %d", MaxPageSize, pageSize)
	}
	switch {
	case !utf8.ValidString(query):
		v.Add("query", "must be valid UTF-8")
	case utf8.RuneCountInString(query) > MaxQueryLen:
		v.Add("query", "must be at most %d characters", MaxQueryLen)
	}
	return pageSize
}

// decodeOffset reads a page token issued for the query fingerprint fp.
func decodeOffset(token, fp string) (int, error) {
	if token == "" {
		return 0, nil
	}
	var tok pageToken
	err := pagetoken.Decode(token, &tok)
	switch {
	case err != nil || tok.Offset <= 0 || tok.Query == "":
		return 0, errdefs.Invalid("page_token", "is not a token this service issued")
	case tok.Query != fp:
		return 0, errdefs.Invalid("page_token", "was issued for another query; keep the query the same between pages")
	}
	return tok.Offset, nil
}

// paginate cuts one page out of ranked results.
func paginate[E, T any](ranked []E, offset, size int, fp string, conv func(E) T) Page[T] {
	p := Page[T]{TotalSize: len(ranked)}
	if offset >= len(ranked) {
		return p
	}
	end := min(offset+size, len(ranked))
	p.Items = make([]T, 0, end-offset)
	for _, e := range ranked[offset:end] {
		p.Items = append(p.Items, conv(e))
	}
	if end < len(ranked) {
		p.NextPageToken, _ = pagetoken.Encode(pageToken{Offset: end, Query: fp}) // cannot fail for this type
	}
	return p
}
