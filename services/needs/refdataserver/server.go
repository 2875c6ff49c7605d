// Package refdataserver is the gRPC edge of the reference data API: it
// turns ReferenceDataService requests into refsearch calls and the results
// into protobuf. It is, with grpcserver, the only package of the needs
// service that imports generated API types. The reference data is
// read-only and public, so no method looks at the caller.
package refdataserver

import (
	"context"
	"strings"

	"github.com/govmatch/govmatch/pkg/errdefs"
	refdatav1 "github.com/govmatch/govmatch/proto/govmatch/refdata/v1"
	"github.com/govmatch/govmatch/services/needs/refsearch"
)

// Server implements refdatav1.ReferenceDataServiceServer.
type Server struct {
	refdatav1.UnimplementedReferenceDataServiceServer
}

var _ refdatav1.ReferenceDataServiceServer = (*Server)(nil)

// New returns a Server. The search indexes are built on the first request.
func New() *Server { return &Server{} }

const (
	cpvPrefix    = "cpvCodes/"
	regionPrefix = "regions/"
)

// parseName returns the id of "{collection}/{id}"; refsearch validates it.
func parseName(prefix, pattern, name string) (string, error) {
	id, ok := strings.CutPrefix(name, prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errdefs.Invalid("name", "must be of the form %s, got %q", pattern, name)
	}
	return id, nil
}

// ListCpvCodes implements refdatav1.ReferenceDataServiceServer.
func (s *Server) ListCpvCodes(_ context.Context, req *refdatav1.ListCpvCodesRequest) (*refdatav1.ListCpvCodesResponse, error) {
	p, err := refsearch.ListCPV(refsearch.CPVListRequest{
		Query:     req.GetQuery(),
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	resp := &refdatav1.ListCpvCodesResponse{
		CpvCodes:      make([]*refdatav1.CpvCode, len(p.Items)),
		NextPageToken: p.NextPageToken,
		TotalSize:     int32(p.TotalSize),
	}
	for i, c := range p.Items {
		resp.CpvCodes[i] = cpvToProto(c)
	}
	return resp, nil
}

// GetCpvCode implements refdatav1.ReferenceDataServiceServer.
func (s *Server) GetCpvCode(_ context.Context, req *refdatav1.GetCpvCodeRequest) (*refdatav1.CpvCode, error) {
	id, err := parseName(cpvPrefix, "cpvCodes/{cpv_code}", req.GetName())
	if err != nil {
		return nil, err
	}
	d, err := refsearch.GetCPV("name", id)
	if err != nil {
		return nil, err
	}
	p := cpvToProto(d.CPVCode)
	for _, c := range d.Parents {
		p.Parents = append(p.Parents, summaryToProto(c))
	}
	for _, c := range d.Children {
		p.Children = append(p.Children, summaryToProto(c))
	}
	return p, nil
}

// ListRegions implements refdatav1.ReferenceDataServiceServer.
func (s *Server) ListRegions(_ context.Context, req *refdatav1.ListRegionsRequest) (*refdatav1.ListRegionsResponse, error) {
	kind, ok := kindFromProto(req.GetKind())
	if !ok {
		return nil, errdefs.Invalid("kind", "must be KIND_LAND, KIND_NUTS2, KIND_NUTS3 or KIND_MUNICIPALITY, got %v", req.GetKind())
	}
	p, err := refsearch.ListRegions(refsearch.RegionListRequest{
		Query:     req.GetQuery(),
		Kind:      kind,
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	resp := &refdatav1.ListRegionsResponse{
		Regions:       make([]*refdatav1.Region, len(p.Items)),
		NextPageToken: p.NextPageToken,
		TotalSize:     int32(p.TotalSize),
	}
	for i, r := range p.Items {
		resp.Regions[i] = regionToProto(refsearch.RegionDetail{Region: r})
	}
	return resp, nil
}

// GetRegion implements refdatav1.ReferenceDataServiceServer.
func (s *Server) GetRegion(_ context.Context, req *refdatav1.GetRegionRequest) (*refdatav1.Region, error) {
	id, err := parseName(regionPrefix, "regions/{region}", req.GetName())
	if err != nil {
		return nil, err
	}
	d, err := refsearch.GetRegion("name", id)
	if err != nil {
		return nil, err
	}
	return regionToProto(d), nil
}
