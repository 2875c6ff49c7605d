package matchcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/matching/match"
)

// keyInput is everything an answer of the Service depends on besides the
// subject and the content: the whole query, what the caller's identity
// decides (drafts are visible to their organisation and to admins, a
// preview needs a signed-in caller, page tokens are bound to the
// organisation), the scoring weights and the layout of the cached value.
// A new dependency of match.Service on the caller must be added here.
type keyInput struct {
	Query   match.Query
	Org     string
	Auth    bool
	Admin   bool
	Weights string
	Schema  string
}

// pageSchema changes whenever match.Page's layout does (another field, a
// renamed one), so that replicas of two builds sharing a Redis during a
// rollout never decode each other's pages.
var pageSchema = hashHex([]byte(typeSignature(reflect.TypeFor[match.Page](), map[reflect.Type]bool{})), 8)

// Key returns the cache key of one request: prefix + "match:{" + subject
// hash + "}:" + digest + ":" + hash of the rest. The braces are a Redis
// Cluster hash tag: all the versions and queries of one subject live in
// one slot. subject names the method and what it ranks for (a need's or a
// vendor's id, a preview's whole need); weights is the version of the
// weights, and of the code when the caller knows it.
func Key(prefix, subject, digest, weights string, q match.Query, p identity.Principal) string {
	in := keyInput{Query: q, Org: p.Org, Auth: p.Authenticated(), Admin: p.IsAdmin(), Weights: weights, Schema: pageSchema}
	b, err := json.Marshal(in)
	if err != nil {
		// Strings, ints and bools only; keep the key unique anyway.
		b = fmt.Appendf(nil, "%#v", in)
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 90)
	sb.WriteString(prefix)
	sb.WriteString("match:{")
	sb.WriteString(hashHex([]byte(subject), 8))
	sb.WriteString("}:")
	sb.WriteString(digest)
	sb.WriteByte(':')
	sb.WriteString(hashHex(append(append([]byte(subject), 0), b...), 16))
	return sb.String()
}

// ETag returns the tag that names the page stored under key: a hash, so
// that it shows nothing of the caller or the query.
func ETag(key string) string { return hashHex([]byte(key), 16) }

// hashHex is the first n bytes of the SHA-256 of b, in hex.
func hashHex(b []byte, n int) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:n])
}

// typeSignature describes t's layout: kinds, field names and element
// types, recursively.
func typeSignature(t reflect.Type, seen map[reflect.Type]bool) string {
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + typeSignature(t.Elem(), seen)
	case reflect.Slice:
		return "[]" + typeSignature(t.Elem(), seen)
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), typeSignature(t.Elem(), seen))
	case reflect.Map:
		return "map[" + typeSignature(t.Key(), seen) + "]" + typeSignature(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return t.String()
		}
		seen[t] = true
		var b strings.Builder
		b.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(&b, "%s %s %q;", f.Name, typeSignature(f.Type, seen), f.Tag)
		}
		b.WriteString("}")
		return b.String()
	default:
		return t.Kind().String()
	}
}
