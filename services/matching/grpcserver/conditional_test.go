package grpcserver_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/govmatch/govmatch/pkg/conditional"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	"github.com/govmatch/govmatch/services/matching/grpcserver"
	"github.com/govmatch/govmatch/services/matching/match"
)

// taggedRanker answers "n1" with a page tagged "p1" and honours
// If-None-Match as matchcache does; other needs get untagged pages.
type taggedRanker struct {
	match.Ranker
	mu   sync.Mutex
	seen string
}

func (r *taggedRanker) NeedMatches(ctx context.Context, id string, _ match.Query) (match.Page, error) {
	r.mu.Lock()
	r.seen = match.IfNoneMatch(ctx)
	r.mu.Unlock()
	p := match.Page{Results: []match.Result{{ID: "v1", Score: 10}}, WeightsVersion: "w"}
	if id != "n1" {
		return p, nil
	}
	if match.IfNoneMatch(ctx) == "p1" {
		return match.Page{ETag: "p1"}, match.ErrNotModified
	}
	p.ETag = "p1"
	return p, nil
}

func (r *taggedRanker) lastSeen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

// TestConditional: the response header names the page and the view; a
// caller that sends that tag back gets an empty message marked not
// modified, and one that asks for another view gets the full answer.
func TestConditional(t *testing.T) {
	t.Parallel()
	ranker := &taggedRanker{}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	matchingv1.RegisterMatchingServiceServer(srv, grpcserver.New(ranker))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := matchingv1.NewMatchingServiceClient(conn)

	for _, tc := range []struct {
		name        string
		need        string
		ifNoneMatch string
		view        matchingv1.MatchView
		wantSeen    string // what the ranker got
		wantTag     string
		notModified bool
	}{
		{name: "first call", need: "needs/n1", wantTag: "p1-e5"},
		{name: "holding it", need: "needs/n1", ifNoneMatch: "p1-e5", wantSeen: "p1", wantTag: "p1-e5", notModified: true},
		{name: "holding another view", need: "needs/n1", ifNoneMatch: "p1-e5", view: matchingv1.MatchView_MATCH_VIEW_FULL, wantTag: "p1-e0"},
		{name: "holding an old page", need: "needs/n1", ifNoneMatch: "p0-e5", wantSeen: "p0", wantTag: "p1-e5"},
		{name: "untagged page", need: "needs/n2", ifNoneMatch: "p1-e5", wantSeen: "p1"},
	} {
		ctx := t.Context()
		if tc.ifNoneMatch != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, conditional.IfNoneMatchKey, tc.ifNoneMatch)
		}
		var header metadata.MD
		resp, err := client.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: tc.need, View: tc.view}, grpc.Header(&header))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		tag, notModified := conditional.FromHeader(header)
		if tag != tc.wantTag || notModified != tc.notModified || ranker.lastSeen() != tc.wantSeen {
			t.Errorf("%s: tag %q not modified %v, ranker got %q; want %q %v %q",
				tc.name, tag, notModified, ranker.lastSeen(), tc.wantTag, tc.notModified, tc.wantSeen)
		}
		if empty := len(resp.GetMatches()) == 0 && resp.GetWeightsVersion() == ""; empty != tc.notModified {
			t.Errorf("%s: %d matches, weights %q, not modified %v", tc.name, len(resp.GetMatches()), resp.GetWeightsVersion(), tc.notModified)
		}
	}
}
