// Package conditional carries conditional requests over gRPC, the way
// HTTP's ETag and If-None-Match do: a service names the content of an
// answer with an entity tag in the response header, a caller that still
// holds that content sends the tag back, and the service, if its current
// answer has the same tag, says so instead of sending the answer again.
//
// The REST gateway uses it to keep the JSON it rendered and revalidate it
// on every request: the service stays the judge of freshness, and an
// unchanged answer costs neither its transfer nor its rendering.
package conditional

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Metadata keys.
const (
	// IfNoneMatchKey is the request metadata with the tag the caller holds.
	IfNoneMatchKey = "if-none-match"
	// ETagKey is the response header metadata naming the content of the
	// answer (or, with NotModifiedKey, of the caller's copy).
	ETagKey = "etag"
	// NotModifiedKey is the response header metadata, "true", of an answer
	// that left its message empty because the caller holds its content.
	NotModifiedKey = "govmatch-not-modified"
)

// IfNoneMatch returns the tag the caller of an incoming call holds, or "".
func IfNoneMatch(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, IfNoneMatchKey); len(v) == 1 {
		return v[0]
	}
	return ""
}

// SetETag names the content of the answer of the incoming call. Outside a
// gRPC call (a direct Go call in a test) there is no header, and nothing
// happens.
func SetETag(ctx context.Context, tag string) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(ETagKey, tag))
}

// SetNotModified says that the answer of the incoming call is empty
// because the caller holds its content, named tag.
func SetNotModified(ctx context.Context, tag string) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(ETagKey, tag, NotModifiedKey, "true"))
}

// FromHeader reads what SetETag or SetNotModified put into a response
// header.
func FromHeader(md metadata.MD) (tag string, notModified bool) {
	if v := md.Get(ETagKey); len(v) == 1 {
		tag = v[0]
	}
	return tag, tag != "" && len(md.Get(NotModifiedKey)) == 1 && md.Get(NotModifiedKey)[0] == "true"
}
