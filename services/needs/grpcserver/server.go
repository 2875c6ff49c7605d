// Package grpcserver is the needs registry's gRPC edge: it turns protobuf
// requests into domain calls and domain results back into protobuf. It is
// the only package of the service that imports the generated API types.
package grpcserver

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Server implements needsv1.NeedsServiceServer on a need.Service.
type Server struct {
	needsv1.UnimplementedNeedsServiceServer
	svc *need.Service
}

var _ needsv1.NeedsServiceServer = (*Server)(nil)

// New returns a Server for svc.
func New(svc *need.Service) *Server { return &Server{svc: svc} }

const namePrefix = "needs/"

// parseName returns the id of "needs/{id}"; the domain validates the id.
func parseName(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, namePrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errdefs.Invalid(field, "must be of the form needs/{need}, got %q", name)
	}
	return id, nil
}

// GetNeed implements needsv1.NeedsServiceServer.
func (s *Server) GetNeed(ctx context.Context, req *needsv1.GetNeedRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return NeedToProto(n), nil
}

// ListNeeds implements needsv1.NeedsServiceServer.
func (s *Server) ListNeeds(ctx context.Context, req *needsv1.ListNeedsRequest) (*needsv1.ListNeedsResponse, error) {
	states := make([]need.State, len(req.GetStates()))
	for i, st := range req.GetStates() {
		states[i] = need.State(st)
	}
	needs, next, err := s.svc.List(ctx, need.ListRequest{
		PageSize:     int(req.GetPageSize()),
		PageToken:    req.GetPageToken(),
		States:       states,
		CPVCodes:     req.GetCpvCodes(),
		Regions:      req.GetRegions(),
		Organization: req.GetOrganization(),
		Query:        req.GetQuery(),
		OrderBy:      req.GetOrderBy(),
	})
	if err != nil {
		return nil, err
	}
	resp := &needsv1.ListNeedsResponse{NextPageToken: next, Needs: make([]*needsv1.Need, len(needs))}
	for i, n := range needs {
		resp.Needs[i] = NeedToProto(n)
	}
	return resp, nil
}

// CreateNeed implements needsv1.NeedsServiceServer.
func (s *Server) CreateNeed(ctx context.Context, req *needsv1.CreateNeedRequest) (*needsv1.Need, error) {
	if req.GetNeed() == nil {
		return nil, errdefs.Invalid("need", "is required")
	}
	f, err := fieldsFromProto(req.GetNeed())
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Create(ctx, f, req.GetNeedId())
	if err != nil {
		return nil, err
	}
	return NeedToProto(n), nil
}

// UpdateNeed implements needsv1.NeedsServiceServer.
func (s *Server) UpdateNeed(ctx context.Context, req *needsv1.UpdateNeedRequest) (*needsv1.Need, error) {
	pn := req.GetNeed()
	if pn == nil {
		return nil, errdefs.Invalid("need", "is required")
	}
	id, err := parseName("need.name", pn.GetName())
	if err != nil {
		return nil, err
	}
	mask, err := maskPaths(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	f, err := fieldsFromProto(pn)
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Update(ctx, id, f, mask, pn.GetEtag())
	if err != nil {
		return nil, err
	}
	return NeedToProto(n), nil
}

// needDescriptor is what update masks of needs are resolved against.
var needDescriptor = (&needsv1.Need{}).ProtoReflect().Descriptor()

// maskPaths maps update_mask paths to domain field names. Sub-paths of the
// two message fields ("estimated_budget.min_eur") update the whole message,
// which keeps the range check over both bounds meaningful.
func maskPaths(paths []string) ([]string, error) {
	return grpcx.UpdateMask(needDescriptor, paths, need.UpdatableFields, need.FieldBudget, need.FieldTimeline)
}

// DeleteNeed implements needsv1.NeedsServiceServer.
func (s *Server) DeleteNeed(ctx context.Context, req *needsv1.DeleteNeedRequest) (*emptypb.Empty, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.svc.Delete(ctx, id, req.GetEtag()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// PublishNeed implements needsv1.NeedsServiceServer.
func (s *Server) PublishNeed(ctx context.Context, req *needsv1.PublishNeedRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetResponseDeadline() == nil {
		return nil, errdefs.Invalid("response_deadline", "is required")
	}
	if err := req.GetResponseDeadline().CheckValid(); err != nil {
		return nil, errdefs.Invalid("response_deadline", "is not a valid timestamp")
	}
	n, err := s.svc.Publish(ctx, id, req.GetResponseDeadline().AsTime(), req.GetEtag())
	return result(n, err)
}

// StartProcurement implements needsv1.NeedsServiceServer.
func (s *Server) StartProcurement(ctx context.Context, req *needsv1.StartProcurementRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	n, err := s.svc.StartProcurement(ctx, id, req.GetEtag())
	return result(n, err)
}

// AwardNeed implements needsv1.NeedsServiceServer.
func (s *Server) AwardNeed(ctx context.Context, req *needsv1.AwardNeedRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetAward() == nil {
		return nil, errdefs.Invalid("award", "is required")
	}
	a := req.GetAward()
	n, err := s.svc.Award(ctx, id, need.Award{
		VendorName: strings.TrimSpace(a.GetVendorName()),
		Vendor:     a.GetVendor(),
		ValueEUR:   a.GetValueEur(),
		Date:       dateFromProto(a.GetAwardDate()),
	}, req.GetEtag())
	return result(n, err)
}

// CloseNeed implements needsv1.NeedsServiceServer.
func (s *Server) CloseNeed(ctx context.Context, req *needsv1.CloseNeedRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Close(ctx, id, strings.TrimSpace(req.GetReason()), req.GetEtag())
	return result(n, err)
}

// JoinNeed implements needsv1.NeedsServiceServer.
func (s *Server) JoinNeed(ctx context.Context, req *needsv1.JoinNeedRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Join(ctx, id)
	return result(n, err)
}

// LeaveNeed implements needsv1.NeedsServiceServer.
func (s *Server) LeaveNeed(ctx context.Context, req *needsv1.LeaveNeedRequest) (*needsv1.Need, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Leave(ctx, id)
	return result(n, err)
}

func result(n *need.Need, err error) (*needsv1.Need, error) {
	if err != nil {
		return nil, err
	}
	return NeedToProto(n), nil
}
