package grpcserver

import (
	"context"
	"strings"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/need"
)

// parseResponseName splits "needs/{need}/responses/{vendor}".
func parseResponseName(field, name string) (needID, vendor string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "needs" || parts[2] != "responses" || parts[1] == "" || parts[3] == "" {
		return "", "", errdefs.Invalid(field, "must be of the form needs/{need}/responses/{vendor}, got %q", name)
	}
	return parts[1], parts[3], nil
}

func responseFieldsFromProto(r *needsv1.Response) need.ResponseFields {
	return need.ResponseFields{
		Summary:            r.GetSummary(),
		IndicativePriceEUR: r.GetIndicativePriceEur(),
		ContactEmail:       r.GetContactEmail(),
	}
}

// ResponseToProto is the API's view of r, shared with needevents.
func ResponseToProto(r *need.Response) *needsv1.Response {
	return &needsv1.Response{
		Name:               namePrefix + r.NeedID + "/responses/" + r.Vendor,
		Vendor:             "vendors/" + r.Vendor,
		Summary:            r.Summary,
		IndicativePriceEur: r.IndicativePriceEUR,
		ContactEmail:       r.ContactEmail,
		State:              needsv1.Response_State(r.State),
		CreateTime:         timeToProto(r.CreateTime),
		UpdateTime:         timeToProto(r.UpdateTime),
		Etag:               r.ETag(),
	}
}

func responseResult(r *need.Response, err error) (*needsv1.Response, error) {
	if err != nil {
		return nil, err
	}
	return ResponseToProto(r), nil
}

// CreateResponse implements needsv1.NeedsServiceServer.
func (s *Server) CreateResponse(ctx context.Context, req *needsv1.CreateResponseRequest) (*needsv1.Response, error) {
	id, err := parseName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if req.GetResponse() == nil {
		return nil, errdefs.Invalid("response", "is required")
	}
	return responseResult(s.svc.SubmitResponse(ctx, id, responseFieldsFromProto(req.GetResponse())))
}

// GetResponse implements needsv1.NeedsServiceServer.
func (s *Server) GetResponse(ctx context.Context, req *needsv1.GetResponseRequest) (*needsv1.Response, error) {
	needID, vendor, err := parseResponseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return responseResult(s.svc.GetResponse(ctx, needID, vendor))
}

// ListResponses implements needsv1.NeedsServiceServer.
func (s *Server) ListResponses(ctx context.Context, req *needsv1.ListResponsesRequest) (*needsv1.ListResponsesResponse, error) {
	id, err := parseName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	rs, next, err := s.svc.ListResponses(ctx, id, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &needsv1.ListResponsesResponse{NextPageToken: next, Responses: make([]*needsv1.Response, len(rs))}
	for i, r := range rs {
		out.Responses[i] = ResponseToProto(r)
	}
	return out, nil
}

// responseDescriptor is what update masks of responses are resolved
// against.
var responseDescriptor = (&needsv1.Response{}).ProtoReflect().Descriptor()

// UpdateResponse implements needsv1.NeedsServiceServer.
func (s *Server) UpdateResponse(ctx context.Context, req *needsv1.UpdateResponseRequest) (*needsv1.Response, error) {
	r := req.GetResponse()
	if r == nil {
		return nil, errdefs.Invalid("response", "is required")
	}
	needID, vendor, err := parseResponseName("response.name", r.GetName())
	if err != nil {
		return nil, err
	}
	mask, err := grpcx.UpdateMask(responseDescriptor, req.GetUpdateMask().GetPaths(), need.UpdatableResponseFields)
	if err != nil {
		return nil, err
	}
	return responseResult(s.svc.UpdateResponse(ctx, needID, vendor, responseFieldsFromProto(r), mask, r.GetEtag()))
}

// WithdrawResponse implements needsv1.NeedsServiceServer.
func (s *Server) WithdrawResponse(ctx context.Context, req *needsv1.WithdrawResponseRequest) (*needsv1.Response, error) {
	needID, vendor, err := parseResponseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return responseResult(s.svc.WithdrawResponse(ctx, needID, vendor, req.GetEtag()))
}
