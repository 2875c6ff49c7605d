package profile

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp"
)

//go:generate go run gen_licences.go

// freeLicencesTxt lists the SPDX ids that the SPDX licence list marks
// OSI-approved or FSF-libre, one per line (see gen_licences.go).
//
//go:embed free_licences.txt
var freeLicencesTxt string

var freeLicences = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	for line := range strings.Lines(freeLicencesTxt) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
})

// NormalizeLicence validates an SPDX licence expression and returns it in
// SPDX's canonical spelling ("apache-2.0 OR mit" → "Apache-2.0 OR MIT"; operators must be upper case) and
// whether it is open source: every licence in it OSI-approved or FSF-libre.
// "LicenseRef-…" and "DocumentRef-…" licences are valid but not open source;
// a "WITH" exception and "+" (or later) keep a licence open source.
func NormalizeLicence(expr string) (canonical string, openSource bool, err error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return "", false, errors.New("licence is empty")
	}
	if len(expr) > MaxLicenceLen {
		return "", false, fmt.Errorf("licence must be at most %d characters", MaxLicenceLen)
	}
	norm, invalid := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{expr}, spdxexp.ValidateLicensesOptions{})
	if len(invalid) > 0 || len(norm) != 1 {
		return "", false, fmt.Errorf("%q is not a valid SPDX licence expression (e.g. \"MIT\", \"Apache-2.0 OR MIT\", \"LicenseRef-proprietary\")", expr)
	}
	canonical = norm[0]
	ids, err := spdxexp.ExtractLicenses(canonical)
	if err != nil || len(ids) == 0 {
		return "", false, fmt.Errorf("%q is not a valid SPDX licence expression", expr)
	}
	openSource = true
	for _, id := range ids {
		id, _, _ = strings.Cut(id, " WITH ")
		if !freeLicences()[id] && !freeLicences()[strings.TrimSuffix(id, "+")] {
			openSource = false
		}
	}
	return canonical, openSource, nil
}
