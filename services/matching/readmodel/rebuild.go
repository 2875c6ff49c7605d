package readmodel

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
)

// Lister lists everything the registries hold, page by page.
type Lister interface {
	ListVendors(ctx context.Context, fn func(*vendorsv1.Vendor) error) error
	ListNeeds(ctx context.Context, fn func(*needsv1.Need) error) error
}

// Rebuild loads every vendor and need from l and drops what the registries
// no longer have. Events keep being applied meanwhile, and win: a vendor
// or need that an event changed while Rebuild ran keeps the event's state.
// The model serves its old state until each item is replaced.
func (m *Model) Rebuild(ctx context.Context, l Lister) error {
	m.mu.Lock()
	if m.touched != nil {
		m.mu.Unlock()
		return fmt.Errorf("rebuild: already running")
	}
	m.touched = map[string]bool{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.touched = nil
		m.mu.Unlock()
	}()

	vendors := map[string]bool{}
	err := l.ListVendors(ctx, func(v *vendorsv1.Vendor) error {
		vendors[strings.TrimPrefix(v.GetName(), "vendors/")] = true
		m.putVendor(v, true)
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild: list vendors: %w", err)
	}
	needs := map[string]bool{}
	err = l.ListNeeds(ctx, func(n *needsv1.Need) error {
		needs[strings.TrimPrefix(n.GetName(), "needs/")] = true
		m.putNeed(n, true)
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild: list needs: %w", err)
	}

	m.mu.Lock()
	for id := range m.vendors {
		if !vendors[id] && !m.touched[vendorKey(id)] {
			m.removeVendorLocked(id)
			m.version.Add(1)
		}
	}
	for id := range m.needs {
		if !needs[id] && !m.touched[needKey(id)] {
			m.removeNeedLocked(id)
			m.version.Add(1)
		}
	}
	m.mu.Unlock()
	m.ready.Store(true)
	return nil
}

// GRPCLister lists through the registries' gRPC APIs. ListNeeds returns
// what the caller may see, so the calls must carry an admin's credentials
// for drafts to be rebuilt.
type GRPCLister struct {
	Vendors vendorsv1.VendorsServiceClient
	Needs   needsv1.NeedsServiceClient
	// CallOptions go with every List call, e.g. the service's credentials.
	CallOptions []grpc.CallOption
}

var _ Lister = GRPCLister{}

// ListVendors implements Lister.
func (g GRPCLister) ListVendors(ctx context.Context, fn func(*vendorsv1.Vendor) error) error {
	token := ""
	for {
		resp, err := g.Vendors.ListVendors(ctx, &vendorsv1.ListVendorsRequest{PageSize: 100, PageToken: token}, g.CallOptions...)
		if err != nil {
			return err
		}
		for _, v := range resp.GetVendors() {
			if err := fn(v); err != nil {
				return err
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return nil
		}
	}
}

// ListNeeds implements Lister.
func (g GRPCLister) ListNeeds(ctx context.Context, fn func(*needsv1.Need) error) error {
	token := ""
	for {
		resp, err := g.Needs.ListNeeds(ctx, &needsv1.ListNeedsRequest{PageSize: 100, PageToken: token}, g.CallOptions...)
		if err != nil {
			return err
		}
		for _, n := range resp.GetNeeds() {
			if err := fn(n); err != nil {
				return err
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return nil
		}
	}
}

// RebuildUntilDone calls Rebuild until it succeeds or ctx is done, waiting
// from one second up to a minute between attempts: at start the registries
// may not serve yet (in the monolith they start with this process).
func (m *Model) RebuildUntilDone(ctx context.Context, l Lister, log *slog.Logger) error {
	wait := time.Second
	for {
		err := m.Rebuild(ctx, l)
		if err == nil {
			log.InfoContext(ctx, "matching read model built", slog.Int("vendors", m.vendorIdx.Len()), slog.Uint64("version", m.Version()))
			return nil
		}
		log.WarnContext(ctx, "matching read model: rebuild failed, retrying", slog.Any("error", err), slog.Duration("in", wait))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
