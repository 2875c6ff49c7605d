package conditional

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestFromHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		md          metadata.MD
		tag         string
		notModified bool
	}{
		{"none", nil, "", false},
		{"tagged", metadata.Pairs(ETagKey, "t1"), "t1", false},
		{"not modified", metadata.Pairs(ETagKey, "t1", NotModifiedKey, "true"), "t1", true},
		{"not modified without a tag", metadata.Pairs(NotModifiedKey, "true"), "", false},
		{"not modified, not true", metadata.Pairs(ETagKey, "t1", NotModifiedKey, "yes"), "t1", false},
		{"two tags", metadata.Pairs(ETagKey, "t1", ETagKey, "t2", NotModifiedKey, "true"), "", false},
	} {
		tag, nm := FromHeader(tc.md)
		if tag != tc.tag || nm != tc.notModified {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, tag, nm, tc.tag, tc.notModified)
		}
	}
}

func TestIfNoneMatch(t *testing.T) {
	t.Parallel()
	if got := IfNoneMatch(context.Background()); got != "" {
		t.Errorf("no metadata: %q", got)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(IfNoneMatchKey, "t1"))
	if got := IfNoneMatch(ctx); got != "t1" {
		t.Errorf("got %q", got)
	}
	two := metadata.NewIncomingContext(context.Background(), metadata.Pairs(IfNoneMatchKey, "t1", IfNoneMatchKey, "t2"))
	if got := IfNoneMatch(two); got != "" {
		t.Errorf("two values: %q, want none", got)
	}
}
