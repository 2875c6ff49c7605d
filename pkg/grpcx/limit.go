package grpcx

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/govmatch/govmatch/pkg/ratelimit"
)

// Bucket prefixes of the gRPC limiter. They differ from the gateway's, so
// that a request through the gateway, which the gateway limited already,
// never draws twice from one bucket of a shared limiter.
const (
	grpcAddrPrefix  = "grpc:ip:"
	grpcTokenPrefix = "grpc:tok:"
)

// internalHeader carries the process's internal key (see InternalKey).
const internalHeader = "x-govmatch-internal"

// InternalKey marks the calls a process makes to its own gRPC server (the
// monolith's gateway and matching), which the gateway limited already or
// which the process makes on its own behalf. It is random per process and
// never leaves it: only connections to the process's own address carry it.
type InternalKey struct{ key string }

// NewInternalKey returns a fresh random key.
func NewInternalKey() (*InternalKey, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("grpcx: internal key: %w", err)
	}
	return &InternalKey{key: base64.RawURLEncoding.EncodeToString(b)}, nil
}

// DialOption makes a connection's calls carry the key. Give it only to
// connections to this process's own gRPC server.
func (k *InternalKey) DialOption() grpc.DialOption {
	return grpc.WithPerRPCCredentials(internalCreds{k.key})
}

// carried reports whether ctx's incoming metadata holds the key.
func (k *InternalKey) carried(ctx context.Context) bool {
	if k == nil {
		return false
	}
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(internalHeader)
	return len(v) == 1 && subtle.ConstantTimeCompare([]byte(v[0]), []byte(k.key)) == 1
}

type internalCreds struct{ key string }

func (c internalCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{internalHeader: c.key}, nil
}

// RequireTransportSecurity is false: the key only travels over loopback.
func (internalCreds) RequireTransportSecurity() bool { return false }

var _ credentials.PerRPCCredentials = internalCreds{}

// Limits are the per-caller limits of a gRPC server, the same a client
// meets at the gateway: so that reaching a service directly is no way
// around them.
type Limits struct {
	// Limiter, when set, rate-limits each caller: calls with an
	// authorization header by the header (a token), and also every call by
	// its peer's address (an IPv6 peer by its /64), so that made-up tokens
	// from one address cannot exceed the address's limit. Calls from
	// TrustedPeers or carrying Internal are not limited.
	Limiter ratelimit.Limiter
	// TrustedPeers are the addresses of the gateway and the other
	// services: they limit their own callers, or are the installation.
	TrustedPeers []netip.Prefix
	// Internal, when set, exempts the process's own calls.
	Internal *InternalKey
	// MaxMessageBytes bounds a received message, as the gateway bounds a
	// request body; 0 leaves gRPC's default (4 MiB).
	MaxMessageBytes int
	// Log receives a warning, at most once a minute, while the limiter
	// fails (calls are then served unlimited).
	Log *slog.Logger
}

// ServerOptions are the options that enforce l, for NewServer.
func (l Limits) ServerOptions() []grpc.ServerOption {
	var opts []grpc.ServerOption
	if l.MaxMessageBytes > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(l.MaxMessageBytes))
	}
	if l.Limiter != nil {
		lim := &limiter{Limits: l}
		opts = append(opts,
			grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				if err := lim.allow(ctx, info.FullMethod); err != nil {
					return nil, err
				}
				return handler(ctx, req)
			}),
			grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				if err := lim.allow(ss.Context(), info.FullMethod); err != nil {
					return err
				}
				return handler(srv, ss)
			}),
		)
	}
	return opts
}

type limiter struct {
	Limits
	warned atomic.Int64 // unix nanoseconds of the last warning
}

// allow draws one call from the caller's buckets: its address's, and its
// token's when it sends one. The address first, so that a flood of
// made-up tokens is refused by one check.
func (l *limiter) allow(ctx context.Context, method string) error {
	if strings.HasPrefix(method, "/grpc.health.v1.Health/") {
		return nil // probes are the platform's, and cheap
	}
	if l.Internal.carried(ctx) {
		return nil
	}
	addr := peerAddr(ctx)
	if l.trusted(addr) {
		return nil
	}
	keys := []string{grpcAddrPrefix + ratelimit.ClientBucket(addr)}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) > 0 {
		keys = append(keys, grpcTokenPrefix+ratelimit.TokenBucket(strings.Join(v, ",")))
	}
	for _, k := range keys {
		res, err := l.Limiter.Allow(ctx, k)
		if err != nil {
			l.failed(ctx, err)
			continue // fail open: an outage of the limiter must not be one of the service
		}
		if !res.Allowed {
			return exhausted(res.RetryAfter)
		}
	}
	return nil
}

func (l *limiter) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range l.TrustedPeers {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *limiter) failed(ctx context.Context, err error) {
	if l.Log == nil || ctx.Err() != nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.warned.Load()
	if (last != 0 && now-last < int64(time.Minute)) || !l.warned.CompareAndSwap(last, now) {
		return
	}
	l.Log.WarnContext(ctx, "grpc rate limiter failed; serving calls unlimited", slog.Any("err", err))
}

// exhausted is the refusal: ResourceExhausted with a RetryInfo in whole
// seconds, rounded up, as the gateway's 429 says.
func exhausted(retryAfter time.Duration) error {
	secs := max(int64(math.Ceil(retryAfter.Seconds())), 1)
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit exceeded, retry in %d s", secs))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
		st = d
	}
	return st.Err()
}

// peerAddr is the address of the call's direct peer; the zero Addr when
// it is not an IP peer.
func peerAddr(ctx context.Context) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(p.Addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
