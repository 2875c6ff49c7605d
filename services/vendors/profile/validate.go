package profile

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/pkg/tags"
)

// Limits on what a vendor may hold. They keep a profile readable and a
// request cheap; 20,000 characters of description fit a long self-portrait.
const (
	MaxNameLen          = 200
	MaxDescriptionLen   = 20000
	MaxProductDescLen   = 5000
	MaxReferenceTextLen = 2000
	MaxNoteLen          = 2000
	MaxLicenceLen       = 500
	MaxWebsiteLen       = 2048
	MaxExternalIDLen    = 128
	MaxRegions          = 50
	MaxLanguages        = 20
	MaxCapabilities     = 50
	MaxCodes            = 50
	MaxProducts         = 50
	MaxReferences       = 50
	MaxCertifications   = 30
	MaxTagLen           = 64
	MaxQueryLen         = 500
	MaxQueryWords       = 16
	MaxFilterValues     = 20
	MaxBatch            = 1000
	DefaultPageSize     = 20
	MaxPageSize         = 100
	minFoundingYear     = 1800
	minReferenceYear    = 1990
	fieldPrefix         = "vendor."
)

// Field names of a vendor as the API spells them; update masks and field
// violations use them.
const (
	FieldDisplayName    = "display_name"
	FieldKind           = "kind"
	FieldFoundingYear   = "founding_year"
	FieldSizeBand       = "size_band"
	FieldHeadquarters   = "headquarters"
	FieldRegionsServed  = "regions_served"
	FieldNationwide     = "nationwide"
	FieldRemote         = "remote"
	FieldLanguages      = "languages"
	FieldWebsite        = "website"
	FieldDescription    = "description"
	FieldCapabilities   = "capabilities"
	FieldCPVCodes       = "cpv_codes"
	FieldProducts       = "products"
	FieldReferences     = "references"
	FieldCertifications = "certifications"
)

// UpdatableFields are the fields UpdateVendor may change, and what
// CreateVendor validates.
var UpdatableFields = []string{
	FieldDisplayName, FieldKind, FieldFoundingYear, FieldSizeBand, FieldHeadquarters,
	FieldRegionsServed, FieldNationwide, FieldRemote, FieldLanguages, FieldWebsite,
	FieldDescription, FieldCapabilities, FieldCPVCodes, FieldProducts, FieldReferences,
	FieldCertifications,
}

// normalize validates the named fields of f in place: codes become
// canonical, tags normalised, text trimmed, licences classified. Every
// problem is reported at once, under prefix + "vendor." + the field name.
// year is the current year, the upper bound of founding and reference years.
func normalize(f *Fields, fields []string, year int, prefix string, v *errdefs.Violations) {
	for _, name := range fields {
		field := prefix + fieldPrefix + name
		switch name {
		case FieldDisplayName:
			f.DisplayName = strings.TrimSpace(f.DisplayName)
			checkLine(v, field, f.DisplayName, MaxNameLen, true)
		case FieldKind:
			if !f.Kind.Valid() {
				v.Add(field, "must be one of START_UP, CIVIC_TECH, SME, NGO, RESEARCH_INSTITUTION or OTHER")
			}
		case FieldFoundingYear:
			if f.FoundingYear != 0 && (f.FoundingYear < minFoundingYear || f.FoundingYear > year) {
				v.Add(field, "must be between %d and %d, or 0 when not stated", minFoundingYear, year)
			}
		case FieldSizeBand:
			if !f.SizeBand.Valid() {
				v.Add(field, "unknown size band %d", int(f.SizeBand))
			}
		case FieldHeadquarters:
			f.Headquarters = strings.TrimSpace(f.Headquarters)
			if f.Headquarters == "" {
				continue
			}
			r, err := refdata.NormalizeRegion(f.Headquarters)
			switch {
			case err != nil:
				v.Add(field, "%s", err.Error())
			case r.Kind != refdata.Municipality:
				v.Add(field, "must be the 8-digit AGS of a municipality, e.g. \"06531005\"")
			default:
				f.Headquarters = r.Code
			}
		case FieldRegionsServed:
			f.RegionsServed = normalizeList(v, field, f.RegionsServed, MaxRegions, normalizeServedRegion)
		case FieldLanguages:
			f.Languages = normalizeList(v, field, f.Languages, MaxLanguages, func(s string) (string, error) {
				c := strings.ToLower(strings.TrimSpace(s))
				if !iso6391[c] {
					return "", fmt.Errorf("%q is not an ISO 639-1 language code such as \"de\" or \"en\"", truncate(s))
				}
				return c, nil
			})
		case FieldWebsite:
			f.Website = strings.TrimSpace(f.Website)
			if f.Website != "" {
				if err := checkWebsite(f.Website); err != nil {
					v.Add(field, "%s", err.Error())
				}
			}
		case FieldDescription:
			f.Description = strings.TrimSpace(f.Description)
			checkText(v, field, f.Description, MaxDescriptionLen, false)
		case FieldCapabilities:
			f.Capabilities = normalizeList(v, field, f.Capabilities, MaxCapabilities, normalizeTag)
		case FieldCPVCodes:
			f.CPVCodes = normalizeList(v, field, f.CPVCodes, MaxCodes, refdata.NormalizeCPV)
		case FieldCertifications:
			f.Certifications = normalizeList(v, field, f.Certifications, MaxCertifications, normalizeTag)
		case FieldProducts:
			if len(f.Products) > MaxProducts {
				v.Add(field, "at most %d products, got %d", MaxProducts, len(f.Products))
				continue
			}
			for i := range f.Products {
				normalizeProduct(v, indexed(field, i), &f.Products[i])
			}
		case FieldReferences:
			if len(f.References) > MaxReferences {
				v.Add(field, "at most %d references, got %d", MaxReferences, len(f.References))
				continue
			}
			for i := range f.References {
				r := &f.References[i]
				rf := indexed(field, i)
				r.ClientOrganization = strings.TrimSpace(r.ClientOrganization)
				checkLine(v, rf+".client_organization", r.ClientOrganization, MaxNameLen, true)
				if r.Year != 0 && (r.Year < minReferenceYear || r.Year > year) {
					v.Add(rf+".year", "must be between %d and %d, or 0 when not stated", minReferenceYear, year)
				}
				r.Delivered = strings.TrimSpace(r.Delivered)
				checkText(v, rf+".delivered", r.Delivered, MaxReferenceTextLen, true)
				r.Outcome = strings.TrimSpace(r.Outcome)
				checkText(v, rf+".outcome", r.Outcome, MaxReferenceTextLen, false)
			}
		case FieldNationwide, FieldRemote:
			// Booleans need no check.
		}
	}
}

func normalizeProduct(v *errdefs.Violations, field string, p *Product) {
	p.Name = strings.TrimSpace(p.Name)
	checkLine(v, field+".display_name", p.Name, MaxNameLen, true)
	p.Description = strings.TrimSpace(p.Description)
	checkText(v, field+".description", p.Description, MaxProductDescLen, false)
	if !p.Maturity.Valid() {
		v.Add(field+".maturity", "unknown maturity %d", int(p.Maturity))
	}
	if !p.Hosting.Valid() {
		v.Add(field+".hosting", "unknown hosting %d", int(p.Hosting))
	}
	p.OpenSource = false
	if strings.TrimSpace(p.Licence) == "" {
		p.Licence = ""
		return
	}
	canonical, open, err := NormalizeLicence(p.Licence)
	if err != nil {
		v.Add(field+".licence", "%s", err.Error())
		return
	}
	p.Licence, p.OpenSource = canonical, open
}

func normalizeTag(s string) (string, error) { return tags.Normalize(s, MaxTagLen) }

// checkWebsite accepts absolute http and https URLs with a host and without
// credentials, which would end up on a public profile.
func checkWebsite(s string) error {
	if len(s) > MaxWebsiteLen {
		return fmt.Errorf("must be at most %d characters", MaxWebsiteLen)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New("must not contain spaces or control characters")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("is not a URL: %s", strings.TrimPrefix(err.Error(), "parse "))
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an absolute http or https URL, e.g. \"https://example.de\"")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("must name a host")
	case u.User != nil:
		return errors.New("must not contain user name or password")
	}
	return nil
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

// checkLine is checkText for single-line text such as names.
func checkLine(v *errdefs.Violations, field, s string, maxLen int, required bool) {
	before := v.Len()
	checkText(v, field, s, maxLen, required)
	if v.Len() == before && strings.ContainsAny(s, "\n\r") {
		v.Add(field, "must be a single line")
	}
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
// that would garble a listing.
func isForbiddenControl(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
}

// validExternalID accepts 1 to 128 printable ASCII characters without
// spaces: keys of other systems ("cfv00b020c27e5b", "ocds-b5fd17:123").
func validExternalID(s string) bool {
	if s == "" || len(s) > MaxExternalIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// truncate shortens user input quoted in messages.
func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return strings.ToValidUTF8(s[:40], "") + "…"
}

func indexed(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
