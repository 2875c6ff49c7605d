// Package auditpb converts audit entries (pkg/audit) to the API's
// govmatch.audit.v1 messages and exports them as JSON or CSV, for the gRPC
// servers of every service that keeps a trail.
package auditpb

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/errdefs"
	auditv1 "github.com/govmatch/govmatch/proto/govmatch/audit/v1"
)

// ToProto converts an entry.
func ToProto(e audit.Entry) *auditv1.AuditEntry {
	out := &auditv1.AuditEntry{
		Resource:     e.Resource,
		Sequence:     e.Seq,
		Time:         timestamppb.New(e.Time),
		Method:       e.Method,
		RequestId:    e.RequestID,
		TraceId:      e.TraceID,
		PreviousHash: e.PrevHash,
		Hash:         e.Hash,
		Changes:      make([]*auditv1.FieldChange, len(e.Changes)),
	}
	if e.Actor.Subject != "" || e.Actor.Organization != "" || len(e.Actor.Roles) > 0 {
		out.Actor = &auditv1.Actor{Subject: e.Actor.Subject, Organization: e.Actor.Organization, Roles: e.Actor.Roles}
	}
	for i, c := range e.Changes {
		out.Changes[i] = &auditv1.FieldChange{Field: c.Field, Before: value(c.Before), After: value(c.After), Redacted: c.Redacted}
	}
	return out
}

// value is JSON as a protobuf Value; nil for none (or, which the stores
// never write, JSON that does not parse).
func value(raw json.RawMessage) *structpb.Value {
	if len(raw) == 0 {
		return nil
	}
	v := &structpb.Value{}
	if err := protojson.Unmarshal(raw, v); err != nil {
		return nil
	}
	return v
}

// Export renders entries as format "json" (default: {"auditEntries": […]}
// in the API's JSON, as a list call's pages) or "csv" (one row per changed field,
// UTF-8 with a header row).
func Export(entries []audit.Entry, format string) (*httpbody.HttpBody, error) {
	switch format {
	case "", "json":
		var b bytes.Buffer
		b.WriteString(`{"auditEntries":[`)
		for i, e := range entries {
			if i > 0 {
				b.WriteString(",\n")
			}
			data, err := protojson.Marshal(ToProto(e))
			if err != nil {
				return nil, err
			}
			b.Write(data)
		}
		b.WriteString("]}\n")
		return &httpbody.HttpBody{ContentType: "application/json", Data: b.Bytes()}, nil
	case "csv":
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"time", "resource", "sequence", "organization", "subject", "roles", "method",
			"request_id", "trace_id", "field", "before", "after", "redacted", "hash"})
		for _, e := range entries {
			for _, c := range e.Changes {
				_ = w.Write([]string{
					e.Time.UTC().Format(time.RFC3339Nano), e.Resource, strconv.FormatInt(e.Seq, 10),
					cell(e.Actor.Organization), cell(e.Actor.Subject), strings.Join(e.Actor.Roles, " "), e.Method,
					cell(e.RequestID), e.TraceID, c.Field, cell(plain(c.Before)), cell(plain(c.After)),
					strconv.FormatBool(c.Redacted), e.Hash,
				})
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return nil, err
		}
		return &httpbody.HttpBody{ContentType: "text/csv; charset=utf-8", Data: b.Bytes()}, nil
	default:
		return nil, errdefs.Invalid("format", `must be "json" or "csv", got %q`, format)
	}
}

// plain is a JSON value as a spreadsheet cell: a string as its text,
// anything else as JSON.
func plain(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// cell keeps a value that a spreadsheet would run as a formula (=, +, -,
// @, tab, carriage return first) as text, by a leading apostrophe (OWASP's
// advice against CSV injection); JSON values start with a quote, a digit,
// a bracket or a letter, so only negative numbers change, visibly.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
