package grpcserver

import (
	"context"

	"github.com/govmatch/govmatch/pkg/audit/auditpb"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
)

// ListVendorAuditEntries implements vendorsv1.VendorsServiceServer.
func (s *Server) ListVendorAuditEntries(ctx context.Context, req *vendorsv1.ListVendorAuditEntriesRequest) (*vendorsv1.ListVendorAuditEntriesResponse, error) {
	id, err := parseName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	es, next, err := s.svc.AuditTrail(ctx, id, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &vendorsv1.ListVendorAuditEntriesResponse{NextPageToken: next}
	for _, e := range es {
		out.AuditEntries = append(out.AuditEntries, auditpb.ToProto(e))
	}
	return out, nil
}
