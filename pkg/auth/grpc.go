package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/govmatch/govmatch/pkg/identity"
)

// UnaryServerInterceptor authenticates unary calls with v. A call without an
// authorization header runs as the anonymous principal (reads are public;
// the domain rejects anonymous writes). A call whose header is present but
// is not a valid Bearer token fails with codes.Unauthenticated, or
// codes.Unavailable if the issuer's keys cannot be fetched, and the handler
// is not called. Health checks and reflection are not authenticated.
func UnaryServerInterceptor(v Verifier) grpc.UnaryServerInterceptor {
	if v == nil {
		panic("auth: UnaryServerInterceptor with nil Verifier")
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, v, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is the streaming counterpart of
// UnaryServerInterceptor.
func StreamServerInterceptor(v Verifier) grpc.StreamServerInterceptor {
	if v == nil {
		panic("auth: StreamServerInterceptor with nil Verifier")
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), v, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
	}
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// unauthenticatedMethod reports whether fullMethod is exempt from token
// verification: gRPC health checking and server reflection.
func unauthenticatedMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// authenticate returns ctx with the caller's principal, or a status error.
// The principal is always set explicitly, so nothing placed in the context
// earlier can survive as the caller's identity.
func authenticate(ctx context.Context, v Verifier, fullMethod string) (context.Context, error) {
	anonymous := identity.NewContext(ctx, identity.Principal{})
	if unauthenticatedMethod(fullMethod) {
		return anonymous, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	switch len(values) {
	case 0:
		return anonymous, nil
	case 1:
	default:
		return nil, status.Error(codes.Unauthenticated, "more than one authorization header")
	}
	token, ok := bearerToken(values[0])
	if !ok {
		return nil, status.Error(codes.Unauthenticated, `authorization header must be "Bearer <token>"`)
	}
	p, err := v.Verify(ctx, token)
	if err != nil {
		return nil, verifyStatus(err)
	}
	return identity.NewContext(ctx, p), nil
}

// bearerToken extracts the token from an RFC 6750 "Bearer <token>" value;
// the scheme is case-insensitive.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// verifyStatus converts a Verify error into a gRPC status without leaking
// details: the message is the text of one of this package's reasons, never
// the text of err itself (which another Verifier might have wrapped).
func verifyStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, ErrKeysUnavailable):
		return status.Error(codes.Unavailable, ErrKeysUnavailable.Error())
	}
	for _, reason := range rejectionReasons {
		if errors.Is(err, reason) {
			return status.Error(codes.Unauthenticated, reason.Error())
		}
	}
	return status.Error(codes.Unauthenticated, "token invalid")
}
