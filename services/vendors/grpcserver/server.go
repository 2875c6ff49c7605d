// Package grpcserver is the vendor registry's gRPC edge: it turns protobuf
// requests into domain calls and domain results back into protobuf. It is
// the only package of the service that imports the generated API types.
package grpcserver

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// Server implements vendorsv1.VendorsServiceServer on a profile.Service.
type Server struct {
	vendorsv1.UnimplementedVendorsServiceServer
	svc *profile.Service
}

var _ vendorsv1.VendorsServiceServer = (*Server)(nil)

// New returns a Server for svc.
func New(svc *profile.Service) *Server { return &Server{svc: svc} }

const namePrefix = "vendors/"

// parseName returns the id of "vendors/{id}"; the domain validates the id.
func parseName(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, namePrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errdefs.Invalid(field, "must be of the form vendors/{vendor}, got %q", name)
	}
	return id, nil
}

// GetVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) GetVendor(ctx context.Context, req *vendorsv1.GetVendorRequest) (*vendorsv1.Vendor, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return result(s.svc.Get(ctx, id))
}

// ListVendors implements vendorsv1.VendorsServiceServer.
func (s *Server) ListVendors(ctx context.Context, req *vendorsv1.ListVendorsRequest) (*vendorsv1.ListVendorsResponse, error) {
	kinds := make([]profile.Kind, len(req.GetKinds()))
	for i, k := range req.GetKinds() {
		kinds[i] = profile.Kind(k)
	}
	vendors, next, err := s.svc.List(ctx, profile.ListRequest{
		PageSize:       int(req.GetPageSize()),
		PageToken:      req.GetPageToken(),
		Kinds:          kinds,
		CPVCodes:       req.GetCpvCodes(),
		Regions:        req.GetRegions(),
		Capabilities:   req.GetCapabilities(),
		Certifications: req.GetCertifications(),
		OpenSource:     req.GetOpenSource(),
		Query:          req.GetQuery(),
		OrderBy:        req.GetOrderBy(),
	})
	if err != nil {
		return nil, err
	}
	resp := &vendorsv1.ListVendorsResponse{NextPageToken: next, Vendors: make([]*vendorsv1.Vendor, len(vendors))}
	for i, v := range vendors {
		resp.Vendors[i] = ToProto(v)
	}
	return resp, nil
}

func createRequest(prefix string, req *vendorsv1.CreateVendorRequest) (profile.CreateRequest, error) {
	if req.GetVendor() == nil {
		return profile.CreateRequest{}, errdefs.Invalid(prefix+"vendor", "is required")
	}
	return profile.CreateRequest{
		Fields:     fieldsFromProto(req.GetVendor()),
		ID:         req.GetVendorId(),
		ExternalID: req.GetExternalId(),
	}, nil
}

// CreateVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) CreateVendor(ctx context.Context, req *vendorsv1.CreateVendorRequest) (*vendorsv1.Vendor, error) {
	r, err := createRequest("", req)
	if err != nil {
		return nil, err
	}
	return result(s.svc.Create(ctx, r))
}

// BatchCreateVendors implements vendorsv1.VendorsServiceServer.
func (s *Server) BatchCreateVendors(ctx context.Context, req *vendorsv1.BatchCreateVendorsRequest) (*vendorsv1.BatchCreateVendorsResponse, error) {
	if n := len(req.GetRequests()); n > profile.MaxBatch {
		return nil, errdefs.Invalid("requests", "at most %d requests per call, got %d", profile.MaxBatch, n)
	}
	reqs := make([]profile.CreateRequest, len(req.GetRequests()))
	var v errdefs.Violations
	for i, r := range req.GetRequests() {
		if r.GetVendor() == nil {
			v.Add("requests["+strconv.Itoa(i)+"].vendor", "is required")
			continue
		}
		reqs[i], _ = createRequest("", r)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if req.GetValidateOnly() {
		return &vendorsv1.BatchCreateVendorsResponse{}, s.svc.ValidateBatch(ctx, reqs)
	}
	vendors, err := s.svc.BatchCreate(ctx, reqs)
	if err != nil {
		return nil, err
	}
	resp := &vendorsv1.BatchCreateVendorsResponse{Vendors: make([]*vendorsv1.Vendor, len(vendors))}
	for i, vd := range vendors {
		resp.Vendors[i] = ToProto(vd)
	}
	return resp, nil
}

// UpdateVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) UpdateVendor(ctx context.Context, req *vendorsv1.UpdateVendorRequest) (*vendorsv1.Vendor, error) {
	pv := req.GetVendor()
	if pv == nil {
		return nil, errdefs.Invalid("vendor", "is required")
	}
	id, err := parseName("vendor.name", pv.GetName())
	if err != nil {
		return nil, err
	}
	mask, err := maskPaths(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return result(s.svc.Update(ctx, id, fieldsFromProto(pv), mask, pv.GetEtag()))
}

// vendorDescriptor is what update masks are resolved against.
var vendorDescriptor = (&vendorsv1.Vendor{}).ProtoReflect().Descriptor()

// maskPaths maps update_mask paths to domain field names. Sub-paths of the
// repeated message fields ("products.licence") replace the whole list:
// list elements have no identity to update one by one.
func maskPaths(paths []string) ([]string, error) {
	return grpcx.UpdateMask(vendorDescriptor, paths, profile.UpdatableFields, profile.FieldProducts, profile.FieldReferences)
}

// DeleteVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) DeleteVendor(ctx context.Context, req *vendorsv1.DeleteVendorRequest) (*emptypb.Empty, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.svc.Delete(ctx, id, req.GetEtag()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// VerifyVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) VerifyVendor(ctx context.Context, req *vendorsv1.VerifyVendorRequest) (*vendorsv1.Vendor, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return result(s.svc.Verify(ctx, id, profile.Verification(req.GetStatus()), req.GetNote(), req.GetEtag()))
}

func result(v *profile.Vendor, err error) (*vendorsv1.Vendor, error) {
	if err != nil {
		return nil, err
	}
	return ToProto(v), nil
}
