package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/govmatch/govmatch/pkg/ratelimit"
)

// Keys of the rate limiter's buckets. A client address is the IPv4 address,
// or the /64 of an IPv6 address: one subscriber commonly has a whole /64,
// so limiting single IPv6 addresses would limit nobody.
const (
	addrKeyPrefix      = "ip:"    // anonymous requests, by address
	tokenKeyPrefix     = "tok:"   // requests with a token, by token
	tokenAddrKeyPrefix = "tokip:" // requests with a token, by address, in TokenAddrLimiter
	unknownAddr        = "unknown"
)

// limiterWarnEvery spaces the warnings about a failing limiter.
const limiterWarnEvery = time.Minute

// check is one bucket a request must find a token in.
type check struct {
	limiter ratelimit.Limiter
	key     string
}

// checks lists the buckets r draws from.
//
// An anonymous request draws from its address's bucket. A request with an
// Authorization header draws from its token's bucket, so that the
// employees of one city hall behind one NAT are not one client; the key is
// a SHA-256 of the header, so Redis never holds a token. The gateway does
// not verify tokens, though, and a client could send a new made-up token
// with every request: so a request with a token also draws from a bucket of
// its address. That is the address's anonymous bucket in Limiter, unless
// TokenAddrLimiter is set, which then gives the address a bucket of its own
// for requests with tokens, and its larger limit is what lets many users
// share one address.
func (g *Gateway) checks(r *http.Request) []check {
	addr := unknownAddr
	if a := g.clientAddr(r); a.IsValid() {
		addr = bucketOf(a)
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return []check{{g.cfg.Limiter, addrKeyPrefix + addr}}
	}
	sum := sha256.Sum256([]byte(auth))
	// 128 bits tell tokens apart as well as 256, in half the key.
	token := check{g.cfg.Limiter, tokenKeyPrefix + hex.EncodeToString(sum[:16])}
	// The address first: when a client floods with made-up tokens, its
	// address is the exhausted bucket, and one check refuses the request.
	if g.cfg.TokenAddrLimiter != nil {
		return []check{{g.cfg.TokenAddrLimiter, tokenAddrKeyPrefix + addr}, token}
	}
	return []check{{g.cfg.Limiter, addrKeyPrefix + addr}, token}
}

// bucketOf names the bucket of a client address.
func bucketOf(a netip.Addr) string {
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// clientAddr is the address of the client that sent r: the direct peer,
// unless the peer is one of TrustedProxies. Then X-Forwarded-For is read from
// the right, where each proxy appends the address it was called from, and
// the first address that is not a trusted proxy is the client. The entries
// left of that were written by the client and are not believed: reading
// from the left would let anyone pick their own bucket.
func (g *Gateway) clientAddr(r *http.Request) netip.Addr {
	addr := parseAddr(r.RemoteAddr)
	if !g.trusted(addr) {
		return addr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseAddr(hops[i])
		if !hop.IsValid() {
			// A trusted proxy wrote something unreadable: the last address
			// known for sure is the best there is.
			break
		}
		addr = hop
		if !g.trusted(hop) {
			break
		}
	}
	return addr
}

func (g *Gateway) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range g.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or
// "[2001:db8::1]:443" (some proxies put ports into X-Forwarded-For), and
// returns the zero Addr for anything else.
func parseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("")
}

// limit rate-limits the API when Config.Limiter is set. Every response it
// lets through carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (draft-ietf-httpapi-ratelimit-headers) of the bucket
// closest to empty; a refusal is 429 with Retry-After and a
// google.rpc.Status RESOURCE_EXHAUSTED with RetryInfo, written by the API's
// error handler like every other API error.
//
// A limiter that fails lets the request through: rate limiting protects
// the service, and an outage of it must not become one of the service.
func (g *Gateway) limit(next http.Handler) http.Handler {
	if g.cfg.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := g.decide(r)
		if ok {
			h := w.Header()
			h.Set("RateLimit-Limit", strconv.Itoa(res.Limit.Burst))
			h.Set("RateLimit-Remaining", strconv.Itoa(max(res.Remaining, 0)))
			h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(res.ResetAfter), 10))
			if !res.Allowed {
				g.tooManyRequests(w, r, res.RetryAfter)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// decide asks the limiters for r's buckets, stopping at the first refusal.
// It returns the refusal, or else the answer with the fewest requests
// remaining; ok is false when no limiter answered.
func (g *Gateway) decide(r *http.Request) (res ratelimit.Result, ok bool) {
	for _, c := range g.checks(r) {
		got, err := c.limiter.Allow(r.Context(), c.key)
		if err != nil {
			g.limiterFailed(r, err)
			continue
		}
		if !ok || !got.Allowed || got.Remaining < res.Remaining {
			res, ok = got, true
		}
		if !got.Allowed {
			break
		}
	}
	return res, ok
}

func (g *Gateway) limiterFailed(r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left; nothing is wrong with the limiter
	}
	now := time.Now().UnixNano()
	last := g.limiterWarned.Load()
	if (last != 0 && now-last < int64(limiterWarnEvery)) || !g.limiterWarned.CompareAndSwap(last, now) {
		return
	}
	g.log.WarnContext(r.Context(), "rate limiter failed; serving requests unlimited (wrap it in ratelimit.FailOpen)", slog.Any("err", err))
}

// tooManyRequests answers 429. Retry-After is in whole seconds, rounded up
// so that a client that obeys it is not refused again.
func (g *Gateway) tooManyRequests(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	secs := max(ceilSeconds(retryAfter), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit exceeded, retry in %d s", secs))
	if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
		st = withInfo
	}
	g.writeError(w, r, http.StatusTooManyRequests, st.Err())
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
