// Package need is the needs registry's domain: what a need is, which changes
// are allowed, who may make them, and what the store must keep. It knows
// nothing of gRPC, protobuf or SQL.
package need

import (
	"slices"
	"strconv"
	"time"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// State is where a need is in its life cycle.
type State int

// The states of a need. Their order is stable: stores persist the number.
const (
	StateUnspecified State = iota
	StateDraft
	StatePublished
	StateInProcurement
	StateAwarded
	StateClosed
)

var stateNames = [...]string{"UNSPECIFIED", "DRAFT", "PUBLISHED", "IN_PROCUREMENT", "AWARDED", "CLOSED"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
	return stateNames[s]
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return s > StateUnspecified && s <= StateClosed }

// Date is a calendar date without time zone; the zero Date means "not set".
type Date struct {
	Year, Month, Day int
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d == Date{} }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool {
	if d.Year != o.Year {
		return d.Year < o.Year
	}
	if d.Month != o.Month {
		return d.Month < o.Month
	}
	return d.Day < o.Day
}

// Award is who won a need and for how much.
type Award struct {
	VendorName string
	Vendor     string // "vendors/{id}" when the vendor is registered
	ValueEUR   int64
	Date       Date
}

// Fields are the parts of a need its owners write.
type Fields struct {
	Title              string
	ProblemStatement   string
	DesiredOutcomes    []string
	CPVCodes           []string // canonical 8-digit codes after validation
	Places             []string // canonical NUTS or AGS codes after validation
	RemotePossible     bool
	BudgetMinEUR       int64
	BudgetMaxEUR       int64 // 0: open-ended
	StartDate          Date
	EndDate            Date
	Certifications     []string // normalised tags after validation
	OpenSourceRequired bool
	ResponseDeadline   time.Time // only through Publish, or Update while published
	// Requirements are what a vendor must or should offer; normalised and
	// free of duplicates after validation.
	Requirements []Requirement
}

// Clone returns a deep copy of f.
func (f Fields) Clone() Fields {
	f.DesiredOutcomes = slices.Clone(f.DesiredOutcomes)
	f.CPVCodes = slices.Clone(f.CPVCodes)
	f.Places = slices.Clone(f.Places)
	f.Certifications = slices.Clone(f.Certifications)
	f.Requirements = slices.Clone(f.Requirements)
	return f
}

// RequirementKind is what a requirement asks of a vendor.
type RequirementKind int

// The kinds of requirement; the numbers are the API's, stores persist the
// names (RequirementKind.String).
const (
	RequirementUnspecified RequirementKind = iota
	// RequirementCertification: the vendor holds the certification Value.
	RequirementCertification
	// RequirementCapability: the vendor states the capability Value.
	RequirementCapability
	// RequirementServesRegion: the vendor serves a place of performance, or
	// delivers remotely when the need is RemotePossible. No Value.
	RequirementServesRegion
	// RequirementOpenSource: the vendor has an open-source product. No Value.
	RequirementOpenSource
	// RequirementHosting: a product is hosted as Value says (one of
	// HostingValues).
	RequirementHosting
)

var requirementKindNames = [...]string{"unspecified", "certification", "capability", "serves_region", "open_source", "hosting"}

func (k RequirementKind) String() string {
	if k < 0 || int(k) >= len(requirementKindNames) {
		return "RequirementKind(" + strconv.Itoa(int(k)) + ")"
	}
	return requirementKindNames[k]
}

// Valid reports whether k is one of the defined kinds.
func (k RequirementKind) Valid() bool { return k > RequirementUnspecified && k <= RequirementHosting }

// ParseRequirementKind is the inverse of RequirementKind.String for the
// valid kinds.
func ParseRequirementKind(s string) (RequirementKind, bool) {
	for k := RequirementCertification; k <= RequirementHosting; k++ {
		if requirementKindNames[k] == s {
			return k, true
		}
	}
	return RequirementUnspecified, false
}

// HostingValues are the values a RequirementHosting may take, as the
// vendors' products state their hosting.
var HostingValues = []string{"germany", "eu", "on_premises"}

// Requirement is one thing a need asks of a vendor. A must-have one leaves
// out the vendors that lack it; a nice-to-have one adds points to those
// that meet it.
type Requirement struct {
	Kind     RequirementKind
	Value    string // the certification, capability or hosting; else empty
	MustHave bool
}

// Need is a problem a buyer organisation puts to the market.
type Need struct {
	ID string
	Fields
	OwnerOrg    string
	CoBuyers    []string // in the order they joined
	State       State
	CloseReason string
	Award       *Award
	CreateTime  time.Time
	UpdateTime  time.Time
	PublishTime time.Time
	CloseTime   time.Time
	// Revision counts writes; it backs the etag and makes lost updates
	// detectable.
	Revision int64
}

// ETag identifies this revision of the need for optimistic concurrency.
func (n *Need) ETag() string { return "r" + strconv.FormatInt(n.Revision, 10) }

// HasCoBuyer reports whether org joined the need.
func (n *Need) HasCoBuyer(org string) bool {
	for _, c := range n.CoBuyers {
		if c == org {
			return true
		}
	}
	return false
}

// SearchText is what free-text search looks in: the lower-cased words of
// title and problem statement. Stores index this text rather than the raw
// fields, so both engines tokenise and fold case the same way, in Go.
func (n *Need) SearchText() string {
	return joinWords(Words(n.Title + " " + n.ProblemStatement))
}

// Clone returns a deep copy, so callers can change it without touching the
// original.
func (n *Need) Clone() *Need {
	c := *n
	c.Fields = n.Fields.Clone()
	c.CoBuyers = slices.Clone(n.CoBuyers)
	if n.Award != nil {
		a := *n.Award
		c.Award = &a
	}
	return &c
}

// RegionKeys are the keys region filters match: every region that contains
// one of the places of performance (see refdata.RegionKeys).
func (n *Need) RegionKeys() []string {
	seen := make(map[string]bool)
	var keys []string
	for _, p := range n.Places {
		for _, k := range refdata.RegionKeys(p) {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}
