package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
)

// UnknownClient names the bucket of requests whose client address cannot
// be told.
const UnknownClient = "unknown"

// ClientBucket names the bucket of a client address: the IPv4 address, or
// the /64 of an IPv6 address. One subscriber commonly has a whole /64, so
// limiting single IPv6 addresses would limit nobody.
func ClientBucket(a netip.Addr) string {
	if !a.IsValid() {
		return UnknownClient
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// TokenBucket names the bucket of the requests that carry one
// Authorization header value: a SHA-256 of it, so that a shared store
// never holds a token. 128 bits tell tokens apart as well as 256, in half
// the key.
func TokenBucket(authorization string) string {
	sum := sha256.Sum256([]byte(authorization))
	return hex.EncodeToString(sum[:16])
}
