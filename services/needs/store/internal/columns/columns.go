// Package columns turns need values into column values and back in the ways
// that every SQL engine shares, so that the engines store dates and search
// words identically. Helpers that know no need type are in pkg/sqlstore;
// engine-specific encodings (timestamps, arrays) stay in the engine packages.
package columns

import (
	"encoding/json"
	"fmt"

	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Date is the column value of d: NULL (nil) when unset, else "YYYY-MM-DD".
func Date(d need.Date) *string {
	if d.IsZero() {
		return nil
	}
	s := fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
	return &s
}

// ParseDate reads a column written by Date.
func ParseDate(s *string) (need.Date, error) {
	if s == nil {
		return need.Date{}, nil
	}
	var d need.Date
	if _, err := fmt.Sscanf(*s, "%04d-%02d-%02d", &d.Year, &d.Month, &d.Day); err != nil {
		return need.Date{}, fmt.Errorf("date column %q: %w", *s, err)
	}
	return d, nil
}

// requirement is a need.Requirement as the requirements column keeps it:
// the kind by name, so the column reads well and survives renumbering.
type requirement struct {
	Kind     string `json:"kind"`
	Value    string `json:"value,omitempty"`
	MustHave bool   `json:"must_have,omitempty"`
}

// Requirements is the JSON array of the requirements column, "[]" for none.
func Requirements(rs []need.Requirement) string {
	l := make([]requirement, len(rs))
	for i, r := range rs {
		l[i] = requirement{Kind: r.Kind.String(), Value: r.Value, MustHave: r.MustHave}
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // strings and bools always marshal
	}
	return string(b)
}

// ParseRequirements reads a column written by Requirements; an empty array
// is nil.
func ParseRequirements(s string) ([]need.Requirement, error) {
	var l []requirement
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("requirements column %q: %w", s, err)
	}
	var out []need.Requirement
	for _, r := range l {
		k, ok := need.ParseRequirementKind(r.Kind)
		if !ok {
			return nil, fmt.Errorf("requirements column: unknown kind %q", r.Kind)
		}
		out = append(out, need.Requirement{Kind: k, Value: r.Value, MustHave: r.MustHave})
	}
	return out, nil
}

// SearchWords splits the words of a query the way need.Need.SearchText splits
// the indexed text, and drops repeats, so that "Bürger-Portal" looks for
// "bürger" and "portal". The results are letters and digits only.
func SearchWords(words []string) []string {
	return sqlstore.SearchWords(words, need.Words)
}

// Stored returns a copy of n as Get would return it after a write: times as
// sqlstore.Time keeps them and empty lists nil. Update returns it, so that
// callers see the stored need without reading it again.
func Stored(n *need.Need) *need.Need {
	c := n.Clone()
	c.ResponseDeadline = sqlstore.Time(c.ResponseDeadline)
	c.CreateTime = sqlstore.Time(c.CreateTime)
	c.UpdateTime = sqlstore.Time(c.UpdateTime)
	c.PublishTime = sqlstore.Time(c.PublishTime)
	c.CloseTime = sqlstore.Time(c.CloseTime)
	for _, l := range []*[]string{&c.DesiredOutcomes, &c.CPVCodes, &c.Places, &c.Certifications, &c.CoBuyers} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(c.Requirements) == 0 {
		c.Requirements = nil
	}
	return c
}
