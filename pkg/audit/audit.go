// Package audit keeps the audit trail of a service: for every accepted
// change one Entry (who, when, which resource, which method, which fields
// changed from what to what, request and trace id), written by the store
// in the same transaction as the change, so that the trail and the data
// cannot disagree. Procurement law asks for the procedure to be
// documented from the start (§ 8 VgV, Vergabevermerk); the trail is its
// basis.
//
// # Hash chains
//
// The entries of one resource form a chain: entry n carries Seq n and the
// hash of entry n-1, and its own Hash covers every field and that link.
// Editing an entry breaks its hash, deleting one leaves a gap in Seq, and
// inserting one breaks the next link, which Verify reports. Writers
// append under a lock on the resource (SQLite's single writer; a
// transaction-scoped advisory lock on PostgreSQL) and (resource, seq) is
// the primary key, so concurrent writers cannot fork a chain. Removing
// the newest entries of a chain leaves a shorter valid chain: record the
// heads (Verify's report lists them) somewhere the database's users
// cannot write to detect that too.
//
// Every service uses the package the same way: its stores take a WithAudit
// option, run the steps of SQLiteSchema or PostgresSchema as migrations,
// keep one Chains and call its AppendSQLite or AppendPgx next to their
// outbox rows.
package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/govmatch/govmatch/pkg/identity"
)

// Entry is one accepted change of one resource.
type Entry struct {
	// Resource is the changed resource's name, as the API spells it
	// ("needs/x", "needs/x/responses/y", "vendors/z").
	Resource string
	// Seq numbers the resource's entries from 1 without gaps.
	Seq  int64
	Time time.Time // UTC, microseconds
	// Actor is who made the change; empty for the system itself (demo
	// data, imports without a caller).
	Actor     Actor
	Method    string // the gRPC method, e.g. /govmatch.needs.v1.NeedsService/UpdateNeed
	RequestID string
	TraceID   string
	Changes   []Change
	// PrevHash is the previous entry's Hash, empty for Seq 1.
	PrevHash string
	// Hash is the hex SHA-256 of the entry; see hash.
	Hash string

	// changesJSON is Changes as stored, marshalled by New outside the
	// writer's lock.
	changesJSON []byte
}

// Actor is the caller behind an entry.
type Actor struct {
	Subject      string   `json:"subject,omitempty"`
	Organization string   `json:"organization,omitempty"`
	Roles        []string `json:"roles,omitempty"`
}

// Change is one field's value before and after; a field that did not
// exist before (or after) has no Before (After).
type Change struct {
	Field  string          `json:"field"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Redacted is set by a reader that may not see the values, which it
	// then removed; never stored.
	Redacted bool `json:"-"`
}

// Redact removes the values of every change, keeping the fields' names:
// that something changed is part of the record, what only for those who
// may read the resource.
func (e *Entry) Redact() {
	for i := range e.Changes {
		e.Changes[i] = Change{Field: e.Changes[i].Field, Redacted: true}
	}
}

// New returns the entry for a change of resource from before to after
// (nil before: created; nil after: deleted), with the caller, method,
// request and trace id of ctx. ok is false when nothing changed but the
// fields in skip, in which case there is nothing to record. before and
// after are structs or pointers to structs of the domain; see Diff.
func New(ctx context.Context, resource string, before, after any, skip ...string) (e Entry, ok bool, err error) {
	changes, err := Diff(before, after, skip...)
	if err != nil || len(changes) == 0 {
		return Entry{}, false, err
	}
	p := identity.FromContext(ctx)
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	req := requestFrom(ctx)
	e = Entry{
		Resource:  resource,
		Time:      time.Now().UTC().Truncate(time.Microsecond),
		Actor:     Actor{Subject: p.Subject, Organization: p.Org, Roles: roles},
		Method:    req.method,
		RequestID: req.id,
		Changes:   changes,
	}
	if e.changesJSON, err = json.Marshal(changes); err != nil {
		return Entry{}, false, err
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		e.TraceID = sc.TraceID().String()
	}
	return e, true, nil
}

// Diff lists the fields whose values differ between before and after, in
// the order of the struct's fields. Fields are the exported fields of the
// struct, embedded structs flattened, named in snake_case as the API
// names them; values are JSON, with integer enums that have a String
// method as that string and zero times as absent. Fields named in skip
// (snake_case), such as bookkeeping counters, are left out.
func Diff(before, after any, skip ...string) ([]Change, error) {
	b, err := fields(before)
	if err != nil {
		return nil, err
	}
	a, err := fields(after)
	if err != nil {
		return nil, err
	}
	order := make([]string, 0, max(len(a.order), len(b.order)))
	order = append(order, a.order...)
	for _, f := range b.order {
		if _, ok := a.values[f]; !ok {
			order = append(order, f)
		}
	}
	var out []Change
	for _, f := range order {
		if slices.Contains(skip, f) {
			continue
		}
		bv, av := b.values[f], a.values[f]
		if string(bv) == string(av) {
			continue
		}
		out = append(out, Change{Field: f, Before: bv, After: av})
	}
	return out, nil
}

type fieldValues struct {
	order  []string
	values map[string]json.RawMessage
}

func fields(v any) (fieldValues, error) {
	fv := fieldValues{values: map[string]json.RawMessage{}}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return fv, nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return fv, nil
	}
	if rv.Kind() != reflect.Struct {
		return fv, fmt.Errorf("audit: want a struct, got %s", rv.Type())
	}
	return fv, fv.add(rv)
}

var (
	stringer = reflect.TypeFor[fmt.Stringer]()
	zeroer   = reflect.TypeFor[interface{ IsZero() bool }]()
)

func (fv *fieldValues) add(rv reflect.Value) error {
	t := rv.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		f := rv.Field(i)
		// Embedded structs are flattened, as encoding/json does, also
		// when their type is unexported.
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			if err := fv.add(f); err != nil {
				return err
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if isEmpty(f) {
			continue // absent and empty are the same to a reader
		}
		var val any = f.Interface()
		if f.Kind() >= reflect.Int && f.Kind() <= reflect.Int64 && sf.Type.Implements(stringer) {
			val = f.Interface().(fmt.Stringer).String()
		}
		data, err := json.Marshal(val)
		if err != nil {
			return fmt.Errorf("audit: field %s: %w", sf.Name, err)
		}
		name := snake(sf.Name)
		fv.order = append(fv.order, name)
		fv.values[name] = data
	}
	return nil
}

func isEmpty(f reflect.Value) bool {
	if f.Type().Implements(zeroer) {
		return f.Interface().(interface{ IsZero() bool }).IsZero()
	}
	switch f.Kind() {
	case reflect.Slice, reflect.Map:
		return f.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return f.IsNil()
	}
	return f.IsZero()
}

// snake turns a Go field name into the API's: ProblemStatement →
// problem_statement, CPVCodes → cpv_codes, BudgetMinEUR → budget_min_eur.
func snake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]))
			nextLower := i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// hash is the hex SHA-256 of e's fields and PrevHash, each prefixed with
// its length so that no two entries can serialise alike. changes is the
// JSON text the store keeps, hashed as stored.
func hash(e Entry, changes []byte) string {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	put([]byte(e.Resource))
	put(n[:])
	put([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	put([]byte(e.Actor.Subject))
	put([]byte(e.Actor.Organization))
	put([]byte(strings.Join(e.Actor.Roles, ",")))
	put([]byte(e.Method))
	put([]byte(e.RequestID))
	put([]byte(e.TraceID))
	put(changes)
	put([]byte(e.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// seal sets e's Seq, PrevHash and Hash for appending after the entry with
// seq prevSeq and hash prevHash (0 and "" for the first), and returns the
// changes as stored.
func seal(e *Entry, prevSeq int64, prevHash string) ([]byte, error) {
	changes := e.changesJSON
	if changes == nil {
		var err error
		if changes, err = json.Marshal(e.Changes); err != nil {
			return nil, err
		}
	}
	e.Seq, e.PrevHash = prevSeq+1, prevHash
	e.Hash = hash(*e, changes)
	return changes, nil
}

// request is what the interceptor keeps of a call for its entries.
type request struct{ method, id string }

type requestKey struct{}

// RequestIDHeader is the metadata key (and HTTP header, through the
// gateway) of the request id.
const RequestIDHeader = "x-request-id"

func requestFrom(ctx context.Context) request {
	r, _ := ctx.Value(requestKey{}).(request)
	if r.method == "" {
		r.method, _ = grpc.Method(ctx)
	}
	return r
}

// WithRequest returns ctx carrying the method and request id that entries
// written under it record; the interceptors call it for every call.
func WithRequest(ctx context.Context, method, requestID string) context.Context {
	return context.WithValue(ctx, requestKey{}, request{method: method, id: requestID})
}

// UnaryServerInterceptor puts the call's method and request id into the
// context: the id the caller sent in x-request-id (the gateway passes on
// the HTTP client's or makes one), if it is a sane token, else a new one,
// which goes back to the caller in the response header.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id := ""
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(RequestIDHeader); len(v) == 1 && ValidRequestID(v[0]) {
				id = v[0]
			}
		}
		if id == "" {
			id = NewRequestID()
			_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
		}
		return handler(WithRequest(ctx, info.FullMethod, id), req)
	}
}

// ValidRequestID reports whether s may be recorded as a request id: 1 to
// 128 characters of letters, digits and -_.:/ — enough for UUIDs, trace
// ids and the ids of common proxies, and nothing that could forge a line
// of a log or a CSV export.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/", c)) {
			return false
		}
	}
	return true
}

// NewRequestID returns a random request id (16 bytes, hex).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
