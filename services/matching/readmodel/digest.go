package readmodel

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"google.golang.org/protobuf/proto"
)

// DigestVersion returns the digest of the model's content and its Version.
//
// The digest says which vendors and needs the model holds, each at which
// registry version (etag) and, for needs, in which state. It is the same in
// every replica that holds the same registry state, however the replica got
// there (events, a Rebuild, or both, in any order), so replicas sharing a
// cache agree on its keys; any put or remove of a different item version
// changes it. It is 128 bits in hex: the XOR of one truncated SHA-256 per
// item.
//
// Both are read together, under the lock every change holds while it
// changes the indexes, the digest and the version. A ranking computed
// between two calls that return the same version saw nothing but that
// digest's content: a change it saw any part of had finished, and so shows
// in the second call's version, by the time that call got the lock. The
// digest alone cannot tell that, since a change and its undoing (a vendor
// created and deleted) give back the digest of before.
func (m *Model) DigestVersion() (digest string, version uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], m.digest[0])
	binary.BigEndian.PutUint64(b[8:], m.digest[1])
	return hex.EncodeToString(b[:]), m.version.Load()
}

// setPartLocked makes h the digest part of key, the zero hash meaning
// absent. m.mu must be held.
func (m *Model) setPartLocked(key string, h [2]uint64) {
	old := m.parts[key]
	m.digest[0] ^= old[0] ^ h[0]
	m.digest[1] ^= old[1] ^ h[1]
	if h == ([2]uint64{}) {
		delete(m.parts, key)
	} else {
		m.parts[key] = h
	}
}

// itemHash is the digest part of an item: its kind, id, etag and state.
// An item without an etag (not from a registry that sets one) is hashed
// by its whole content instead, so that its changes still change the
// digest.
func itemHash(kind, id, etag, state string, msg proto.Message) [2]uint64 {
	h := sha256.New()
	for _, s := range []string{kind, id, etag, state} {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s))) // cannot fail on a hash
		h.Write([]byte(s))
	}
	if etag == "" {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(msg) // a message read from the wire marshals
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return [2]uint64{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])}
}
