package grpcserver

import (
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/need"
)

// fieldsFromProto takes the writable fields of a need. Output-only fields
// are ignored, as AIP-203 asks.
func fieldsFromProto(p *needsv1.Need) (need.Fields, error) {
	f := need.Fields{
		Title:              p.GetTitle(),
		ProblemStatement:   p.GetProblemStatement(),
		DesiredOutcomes:    p.GetDesiredOutcomes(),
		CPVCodes:           p.GetCpvCodes(),
		Places:             p.GetPlacesOfPerformance(),
		RemotePossible:     p.GetRemotePossible(),
		BudgetMinEUR:       p.GetEstimatedBudget().GetMinEur(),
		BudgetMaxEUR:       p.GetEstimatedBudget().GetMaxEur(),
		StartDate:          dateFromProto(p.GetTimeline().GetStartDate()),
		EndDate:            dateFromProto(p.GetTimeline().GetEndDate()),
		Certifications:     p.GetRequiredCertifications(),
		OpenSourceRequired: p.GetOpenSourceRequired(),
	}
	for _, r := range p.GetRequirements() {
		f.Requirements = append(f.Requirements, need.Requirement{
			Kind:     need.RequirementKind(r.GetKind()),
			Value:    r.GetValue(),
			MustHave: r.GetMustHave(),
		})
	}
	if d := p.GetResponseDeadline(); d != nil {
		if err := d.CheckValid(); err != nil {
			return f, errdefs.Invalid("need.response_deadline", "is not a valid timestamp")
		}
		f.ResponseDeadline = d.AsTime()
	}
	return f, nil
}

func dateFromProto(d *date.Date) need.Date {
	if d == nil {
		return need.Date{}
	}
	return need.Date{Year: int(d.GetYear()), Month: int(d.GetMonth()), Day: int(d.GetDay())}
}

func dateToProto(d need.Date) *date.Date {
	if d.IsZero() {
		return nil
	}
	return &date.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// NeedToProto is the API's view of n. The event payloads of needevents
// carry it too, so events and API show a need alike.
func NeedToProto(n *need.Need) *needsv1.Need {
	p := &needsv1.Need{
		Name:                   namePrefix + n.ID,
		Title:                  n.Title,
		ProblemStatement:       n.ProblemStatement,
		DesiredOutcomes:        n.DesiredOutcomes,
		CpvCodes:               n.CPVCodes,
		PlacesOfPerformance:    n.Places,
		RemotePossible:         n.RemotePossible,
		RequiredCertifications: n.Certifications,
		OpenSourceRequired:     n.OpenSourceRequired,
		OwnerOrganization:      n.OwnerOrg,
		CoBuyerOrganizations:   n.CoBuyers,
		State:                  needsv1.Need_State(n.State),
		ResponseDeadline:       timeToProto(n.ResponseDeadline),
		CloseReason:            n.CloseReason,
		CreateTime:             timeToProto(n.CreateTime),
		UpdateTime:             timeToProto(n.UpdateTime),
		PublishTime:            timeToProto(n.PublishTime),
		CloseTime:              timeToProto(n.CloseTime),
		Etag:                   n.ETag(),
	}
	if n.BudgetMinEUR != 0 || n.BudgetMaxEUR != 0 {
		p.EstimatedBudget = &needsv1.BudgetRange{MinEur: n.BudgetMinEUR, MaxEur: n.BudgetMaxEUR}
	}
	if !n.StartDate.IsZero() || !n.EndDate.IsZero() {
		p.Timeline = &needsv1.Timeline{StartDate: dateToProto(n.StartDate), EndDate: dateToProto(n.EndDate)}
	}
	if a := n.Award; a != nil {
		p.Award = &needsv1.Award{VendorName: a.VendorName, Vendor: a.Vendor, ValueEur: a.ValueEUR, AwardDate: dateToProto(a.Date)}
	}
	for _, r := range n.Requirements {
		p.Requirements = append(p.Requirements, &needsv1.Requirement{
			Kind:     needsv1.Requirement_Kind(r.Kind),
			Value:    r.Value,
			MustHave: r.MustHave,
		})
	}
	return p
}
