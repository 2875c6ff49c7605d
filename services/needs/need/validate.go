package need

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/pkg/tags"
)

// Limits on what a need may hold. They keep a need readable and a request
// cheap; the problem statement's 20,000 characters fit a long brief.
const (
	MaxTitleLen            = 200
	MaxProblemLen          = 20000
	MaxOutcomes            = 20
	MaxOutcomeLen          = 500
	MaxCodes               = 50
	MaxPlaces              = 50
	MaxCertifications      = 30
	MaxRequirements        = 30
	MaxBudgetEUR           = 1_000_000_000_000 // a trillion euros: beyond any public budget
	MaxCloseReasonLen      = 2000
	MaxVendorNameLen       = 200
	MaxDeadlineAhead       = 2 * 365 * 24 * time.Hour
	MaxQueryLen            = 500
	MaxQueryWords          = 16
	MaxFilterValues        = 20
	DefaultPageSize        = 20
	MaxPageSize            = 100
	minYear, maxYear       = 2000, 2100
	fieldPrefix            = "need."
	maxCertificationTagLen = 64
	maxCapabilityTagLen    = 64 // as the vendors' MaxTagLen
)

// Field names of a need as the API spells them; update masks and field
// violations use them.
const (
	FieldTitle              = "title"
	FieldProblemStatement   = "problem_statement"
	FieldDesiredOutcomes    = "desired_outcomes"
	FieldCPVCodes           = "cpv_codes"
	FieldPlaces             = "places_of_performance"
	FieldRemotePossible     = "remote_possible"
	FieldBudget             = "estimated_budget"
	FieldTimeline           = "timeline"
	FieldCertifications     = "required_certifications"
	FieldOpenSourceRequired = "open_source_required"
	FieldResponseDeadline   = "response_deadline"
	FieldRequirements       = "requirements"
)

// UpdatableFields are the fields UpdateNeed may change.
var UpdatableFields = []string{
	FieldTitle, FieldProblemStatement, FieldDesiredOutcomes, FieldCPVCodes, FieldPlaces,
	FieldRemotePossible, FieldBudget, FieldTimeline, FieldCertifications,
	FieldOpenSourceRequired, FieldResponseDeadline, FieldRequirements,
}

// normalize validates the named fields of f in place: codes become
// canonical, tags normalised, text trimmed. Every problem is reported at once.
func normalize(f *Fields, fields []string, v *errdefs.Violations) {
	for _, name := range fields {
		field := fieldPrefix + name
		switch name {
		case FieldTitle:
			f.Title = strings.TrimSpace(f.Title)
			checkText(v, field, f.Title, MaxTitleLen, true)
			if strings.ContainsAny(f.Title, "\n\r") {
				v.Add(field, "must be a single line")
			}
		case FieldProblemStatement:
			f.ProblemStatement = strings.TrimSpace(f.ProblemStatement)
			checkText(v, field, f.ProblemStatement, MaxProblemLen, true)
		case FieldDesiredOutcomes:
			if len(f.DesiredOutcomes) > MaxOutcomes {
				v.Add(field, "at most %d outcomes, got %d", MaxOutcomes, len(f.DesiredOutcomes))
				continue
			}
			for i, o := range f.DesiredOutcomes {
				f.DesiredOutcomes[i] = strings.TrimSpace(o)
				checkText(v, indexed(field, i), f.DesiredOutcomes[i], MaxOutcomeLen, true)
			}
		case FieldCPVCodes:
			f.CPVCodes = normalizeList(v, field, f.CPVCodes, MaxCodes, refdata.NormalizeCPV)
		case FieldPlaces:
			f.Places = normalizeList(v, field, f.Places, MaxPlaces, func(s string) (string, error) {
				r, err := refdata.NormalizeRegion(s)
				return r.Code, err
			})
		case FieldBudget:
			switch {
			case f.BudgetMinEUR < 0:
				v.Add(field+".min_eur", "must not be negative")
			case f.BudgetMaxEUR < 0:
				v.Add(field+".max_eur", "must not be negative")
			case f.BudgetMinEUR > MaxBudgetEUR || f.BudgetMaxEUR > MaxBudgetEUR:
				v.Add(field, "must not exceed %d euros", int64(MaxBudgetEUR))
			case f.BudgetMaxEUR != 0 && f.BudgetMinEUR > f.BudgetMaxEUR:
				v.Add(field+".min_eur", "must not exceed max_eur (%d > %d)", f.BudgetMinEUR, f.BudgetMaxEUR)
			}
		case FieldTimeline:
			okStart := checkDate(v, field+".start_date", f.StartDate)
			okEnd := checkDate(v, field+".end_date", f.EndDate)
			if okStart && okEnd && !f.StartDate.IsZero() && !f.EndDate.IsZero() && f.EndDate.Before(f.StartDate) {
				v.Add(field+".end_date", "must not be before start_date")
			}
		case FieldCertifications:
			f.Certifications = normalizeList(v, field, f.Certifications, MaxCertifications, func(s string) (string, error) {
				return tags.Normalize(s, maxCertificationTagLen)
			})
		case FieldRequirements:
			f.Requirements = normalizeRequirements(v, field, f.Requirements)
		case FieldRemotePossible, FieldOpenSourceRequired, FieldResponseDeadline:
			// Booleans need no check; the deadline is checked against the
			// state and the clock by the caller.
		}
	}
}

// normalizeRequirements checks each requirement's kind and value, brings
// the value into canonical form and rejects a second requirement of the
// same kind and value, whatever its must_have: a need cannot both require
// and merely prefer one thing.
func normalizeRequirements(v *errdefs.Violations, field string, in []Requirement) []Requirement {
	if len(in) == 0 || len(in) > MaxRequirements {
		if len(in) > MaxRequirements {
			v.Add(field, "at most %d requirements, got %d", MaxRequirements, len(in))
		}
		return in
	}
	out := make([]Requirement, 0, len(in))
	first := make(map[Requirement]int, len(in))
	for i, r := range in {
		at := indexed(field, i)
		if !r.Kind.Valid() {
			v.Add(at+".kind", "must be one of certification, capability, serves_region, open_source or hosting")
			continue
		}
		var err error
		switch r.Kind {
		case RequirementCertification:
			r.Value, err = tags.Normalize(r.Value, maxCertificationTagLen)
		case RequirementCapability:
			r.Value, err = tags.Normalize(r.Value, maxCapabilityTagLen)
		case RequirementHosting:
			r.Value, err = normalizeHosting(r.Value)
		case RequirementServesRegion, RequirementOpenSource:
			if r.Value != "" {
				v.Add(at+".value", "must be empty for kind %s", r.Kind)
				continue
			}
		}
		if err != nil {
			v.Add(at+".value", "%s", err.Error())
			continue
		}
		key := Requirement{Kind: r.Kind, Value: r.Value}
		if j, dup := first[key]; dup {
			v.Add(at, "repeats %s", indexed(FieldRequirements, j))
			continue
		}
		first[key] = i
		out = append(out, r)
	}
	return out
}

// normalizeHosting accepts the hosting values in any case and with "-" or
// a space for "_" ("On-Premises" → "on_premises").
func normalizeHosting(s string) (string, error) {
	h := strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(HostingValues, h) {
		return h, nil
	}
	if h == "" {
		return "", errors.New("must not be empty")
	}
	return "", fmt.Errorf("must be one of %s, got %q", strings.Join(HostingValues, ", "), s)
}

// normalizeList normalises each value, drops duplicates after normalising
// and keeps the caller's order.
func normalizeList(v *errdefs.Violations, field string, in []string, limit int, norm func(string) (string, error)) []string {
	if len(in) > limit {
		v.Add(field, "at most %d values, got %d", limit, len(in))
		return in
	}
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, s := range in {
		c, err := norm(s)
		if err != nil {
			v.Add(indexed(field, i), "%s", err.Error())
			continue
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func checkText(v *errdefs.Violations, field, s string, maxLen int, required bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case required && s == "":
		v.Add(field, "must not be empty")
	case utf8.RuneCountInString(s) > maxLen:
		v.Add(field, "must be at most %d characters, got %d", maxLen, utf8.RuneCountInString(s))
	case strings.ContainsFunc(s, isForbiddenControl):
		v.Add(field, "must not contain control characters")
	}
}

// isForbiddenControl allows line breaks and tabs in prose but nothing else
// that would garble a listing or a document draft.
func isForbiddenControl(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
}

func checkDate(v *errdefs.Violations, field string, d Date) bool {
	if d.IsZero() {
		return true
	}
	t := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	if d.Year < minYear || d.Year > maxYear || t.Year() != d.Year || int(t.Month()) != d.Month || t.Day() != d.Day {
		v.Add(field, "is not a valid date between %d and %d", minYear, maxYear)
		return false
	}
	return true
}

func checkDeadline(v *errdefs.Violations, field string, deadline, now time.Time) {
	switch {
	case deadline.IsZero():
		v.Add(field, "is required")
	case !deadline.After(now):
		v.Add(field, "must be in the future, got %s", deadline.UTC().Format(time.RFC3339))
	case deadline.Sub(now) > MaxDeadlineAhead:
		v.Add(field, "must be at most 2 years ahead")
	}
}

func indexed(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
