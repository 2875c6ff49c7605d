package grpcserver

import (
	"context"

	"google.golang.org/genproto/googleapis/api/httpbody"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/audit/auditpb"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/need"
)

// ListNeedAuditEntries implements needsv1.NeedsServiceServer.
func (s *Server) ListNeedAuditEntries(ctx context.Context, req *needsv1.ListNeedAuditEntriesRequest) (*needsv1.ListNeedAuditEntriesResponse, error) {
	id, err := parseName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	es, next, err := s.svc.AuditTrail(ctx, id, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &needsv1.ListNeedAuditEntriesResponse{NextPageToken: next}
	for _, e := range es {
		out.AuditEntries = append(out.AuditEntries, auditpb.ToProto(e))
	}
	return out, nil
}

// ExportNeedAuditEntries implements needsv1.NeedsServiceServer: the whole
// trail, page after page, as the caller may see it.
func (s *Server) ExportNeedAuditEntries(ctx context.Context, req *needsv1.ExportNeedAuditEntriesRequest) (*httpbody.HttpBody, error) {
	id, err := parseName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if _, err := auditpb.Export(nil, req.GetFormat()); err != nil {
		return nil, err // a bad format, before any reading
	}
	var all []audit.Entry
	token := ""
	for {
		es, next, err := s.svc.AuditTrail(ctx, id, need.MaxAuditPageSize, token)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
		if token = next; token == "" {
			break
		}
	}
	return auditpb.Export(all, req.GetFormat())
}
