package gateway

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/govmatch/govmatch/pkg/conditional"
)

// Rendered copies. A backend that names the content of an answer with an
// entity tag (package conditional) lets the gateway keep the JSON it
// rendered of it. On the next GET of the same URL by the same caller, the
// gateway sends the tag along; the backend, which alone knows whether the
// content is still current, either answers in full or answers "not
// modified" with an empty message, and the gateway sends its copy. So a
// copy is never served without the backend's word for it on that very
// request, and an unchanged answer (a cached ranking, say) costs neither
// its transfer over gRPC nor its rendering as JSON, which are most of the
// cost of a large answer.
//
// Towards HTTP clients the tag is a weak ETag (two gateway builds may
// render the same content with other whitespace) with Cache-Control
// "private, no-cache" (or "no-store", which secureHeaders sets, for a
// request with credentials), and If-None-Match gets 304 Not Modified.

// DefaultCopyBytes bounds the rendered copies when Config.CopyBytes is
// zero.
const DefaultCopyBytes = 64 << 20

// copies is a least-recently-used map of rendered answers, bounded by
// their total size.
type copies struct {
	max int64

	mu    sync.Mutex
	size  int64
	ll    *list.List // front: most recently used
	items map[string]*list.Element
}

// rendered is one copy. It is never modified once made, so a request can
// hold on to it while another replaces it.
type rendered struct {
	key  string
	tag  string
	body []byte
}

func newCopies(maxBytes int64) *copies {
	return &copies{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the copy of key, or nil; a nil *copies keeps none.
func (c *copies) get(key string) *rendered {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(e)
	return e.Value.(*rendered)
}

// put keeps r, replacing the copy of the same key, and drops the least
// recently used copies beyond the bound. A copy of over an eighth of the
// bound is not kept: it would push out too many others.
func (c *copies) put(r *rendered) {
	n := r.cost()
	if c == nil || n > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[r.key]; ok {
		c.size -= e.Value.(*rendered).cost()
		e.Value = r
		c.ll.MoveToFront(e)
	} else {
		c.items[r.key] = c.ll.PushFront(r)
	}
	c.size += n
	for c.size > c.max {
		e := c.ll.Back()
		old := c.ll.Remove(e).(*rendered)
		delete(c.items, old.key)
		c.size -= old.cost()
	}
}

func (r *rendered) cost() int64 { return int64(len(r.body) + len(r.key) + len(r.tag)) }

// copyState is what one GET request knows about its copy, from the
// middleware that looks it up to the rewriter that serves or replaces it.
type copyState struct {
	key         string
	held        *rendered // the copy at the start of the request, if any
	ifNoneMatch string    // the client's If-None-Match header
	credentials bool      // the request has an Authorization header

	tag         string // the backend's tag of the answer
	notModified bool   // the backend said held is current
	wrote304    bool   // the client holds the answer: no body
}

type copyStateKey struct{}

func copyStateFrom(ctx context.Context) *copyState {
	s, _ := ctx.Value(copyStateKey{}).(*copyState)
	return s
}

// copyKey is a request's copy: its URL and its caller, so that the
// callers of one URL who may see different answers (their own drafts) do
// not push out each other's copies. The token is hashed so that the map
// holds no credentials.
func copyKey(r *http.Request) string {
	key := r.URL.RequestURI()
	if a := r.Header.Get("Authorization"); a != "" {
		sum := sha256.Sum256([]byte(a))
		key += "\x00" + string(sum[:16])
	}
	return key
}

// lookUpCopy is the runtime middleware that starts a GET's copyState.
func (g *Gateway) lookUpCopy(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if r.Method == http.MethodGet {
			st := &copyState{key: copyKey(r), ifNoneMatch: r.Header.Get("If-None-Match"), credentials: authenticated(r)}
			st.held = g.copies.get(st.key)
			r = r.WithContext(context.WithValue(r.Context(), copyStateKey{}, st))
		}
		next(w, r, params)
	}
}

// copyMetadata sends the tag of the copy a request holds to the backend.
func copyMetadata(_ context.Context, r *http.Request) metadata.MD {
	if st := copyStateFrom(r.Context()); st != nil && st.held != nil {
		return metadata.Pairs(conditional.IfNoneMatchKey, st.held.tag)
	}
	return nil
}

// outgoingHeader passes on none of a backend's response header metadata:
// grpc-gateway would send every key as Grpc-Metadata-<key>, and so show
// clients whatever a backend or a library in it puts there. The
// conditional keys are read by answerConditionally, which answers with
// HTTP's own validators; the request id is the gateway's (withRequestID).
func outgoingHeader(string) (string, bool) { return "", false }

// forwardNoTrailers keeps every trailer of a backend from HTTP clients: no
// backend sends one meant for them.
func forwardNoTrailers(string) (string, bool) { return "", false }

// answerConditionally is the forward-response option that reads the
// backend's tag, sets the HTTP validators and answers a client that holds
// the content with 304.
func answerConditionally(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	st := copyStateFrom(ctx)
	md, ok := runtime.ServerMetadataFromContext(ctx)
	if st == nil || !ok {
		return nil
	}
	st.tag, st.notModified = conditional.FromHeader(md.HeaderMD)
	if st.tag == "" {
		return nil
	}
	if st.notModified && (st.held == nil || st.held.tag != st.tag) {
		// The backend vouched for a copy this request did not send.
		return errCopyMismatch
	}
	etag := `W/"` + st.tag + `"`
	w.Header().Set("ETag", etag)
	if !st.credentials {
		// Public content: the client may keep it, but must ask each time.
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	if matchesETag(st.ifNoneMatch, st.tag) {
		st.wrote304 = true
		w.WriteHeader(http.StatusNotModified)
	}
	return nil
}

var errCopyMismatch = errors.New("gateway: backend answered not-modified for a copy the gateway does not hold")

// matchesETag reports whether an If-None-Match header names tag, by weak
// comparison (RFC 9110, 13.1.2): W/"t" and "t" both match, as does *.
func matchesETag(header, tag string) bool {
	if header == "" {
		return false
	}
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" {
			return true
		}
		part = strings.TrimPrefix(part, "W/")
		if len(part) >= 2 && part[0] == '"' && part[len(part)-1] == '"' && part[1:len(part)-1] == tag {
			return true
		}
	}
	return false
}

// rawJSON is an answer already rendered; jsonCopies passes it through.
type rawJSON []byte

// serveCopy is the forward-response rewriter: it answers from the copy the
// backend vouched for, or renders the answer and keeps a copy of it.
func (g *Gateway) serveCopy(ctx context.Context, resp proto.Message) (any, error) {
	st := copyStateFrom(ctx)
	switch {
	case st == nil || st.tag == "":
		return resp, nil
	case st.wrote304:
		return rawJSON(nil), nil
	case st.notModified:
		return rawJSON(st.held.body), nil
	}
	body, err := g.json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	g.copies.put(&rendered{key: st.key, tag: st.tag, body: body})
	return rawJSON(body), nil
}

// jsonCopies is the JSON marshaler that lets rendered copies through.
type jsonCopies struct {
	runtime.Marshaler
}

func (m jsonCopies) Marshal(v any) ([]byte, error) {
	if b, ok := v.(rawJSON); ok {
		return b, nil
	}
	return m.Marshaler.Marshal(v)
}
