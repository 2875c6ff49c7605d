package gateway

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// queryRoutes knows, for every REST route of the API, which query
// parameters its request message takes. grpc-gateway ignores the others,
// so that a misspelt filter (?cpv= for ?cpvCodes=) silently returns
// everything; strictQuery refuses them instead.
type queryRoutes map[string]*queryRoute

// queryRoute is one route: the request message and the fields that the
// path or the body bind, which the query may not set again. A route whose
// body is "*" takes no query parameters at all.
type queryRoute struct {
	method   string // the RPC, e.g. ListNeeds
	msg      protoreflect.MessageDescriptor
	bound    map[string]bool // proto paths, e.g. "need" or "need.name"
	noQuery  bool
	accepted []string // JSON paths, sorted, for the error
}

// routeKey is the key of a route: the HTTP method and the path template in
// the form runtime.Pattern.String() gives it.
func routeKey(method, template string) string { return method + " " + template }

// plainVar matches a path variable without a pattern, "{name}", which the
// runtime's patterns spell "{name=*}".
var plainVar = regexp.MustCompile(`\{([^=}]+)\}`)

// varName matches every path variable, capturing its field path.
var varName = regexp.MustCompile(`\{([^=}]+)(=[^}]*)?\}`)

// newQueryRoutes reads the google.api.http rules of the govmatch services
// in files.
func newQueryRoutes(files *protoregistry.Files) queryRoutes {
	routes := queryRoutes{}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "govmatch.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				opts, ok := md.Options().(*descriptorpb.MethodOptions)
				if !ok || opts == nil {
					continue
				}
				rule, ok := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
				if !ok || rule == nil {
					continue
				}
				for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					routes.add(string(md.Name()), md.Input(), r)
				}
			}
		}
		return true
	})
	return routes
}

func (qr queryRoutes) add(method string, msg protoreflect.MessageDescriptor, r *annotations.HttpRule) {
	var verb, template string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		verb, template = http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		verb, template = http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		verb, template = http.MethodPut, p.Put
	case *annotations.HttpRule_Patch:
		verb, template = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		verb, template = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Custom:
		verb, template = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return
	}
	route := &queryRoute{method: method, msg: msg, bound: map[string]bool{}, noQuery: r.GetBody() == "*"}
	for _, m := range varName.FindAllStringSubmatch(template, -1) {
		route.bound[m[1]] = true
	}
	if b := r.GetBody(); b != "" && b != "*" {
		route.bound[b] = true
	}
	if !route.noQuery {
		route.accepted = leafParams(msg, "", "", route.bound, 0)
		slices.Sort(route.accepted)
	}
	qr[routeKey(verb, plainVar.ReplaceAllString(template, "{$1=*}"))] = route
}

// leafParams lists the query parameters of msg (JSON names, dotted for
// nested messages) outside bound.
func leafParams(msg protoreflect.MessageDescriptor, protoPrefix, jsonPrefix string, bound map[string]bool, depth int) []string {
	var out []string
	for i := range msg.Fields().Len() {
		f := msg.Fields().Get(i)
		p, j := protoPrefix+string(f.Name()), jsonPrefix+f.JSONName()
		if bound[p] {
			continue
		}
		if nested(f) {
			if depth < 3 {
				out = append(out, leafParams(f.Message(), p+".", j+".", bound, depth+1)...)
			}
			continue
		}
		out = append(out, j)
	}
	return out
}

// nested reports whether f is a message that the query addresses field by
// field, not a well-known type that takes one value (a timestamp, a field
// mask, a wrapper).
func nested(f protoreflect.FieldDescriptor) bool {
	if f.Message() == nil || f.IsMap() {
		return false
	}
	return !strings.HasPrefix(string(f.Message().FullName()), "google.protobuf.")
}

// check returns the violations of the query parameters keys that the
// route does not take, and the error message that lists them with the
// parameters it takes ("" if none).
func (r *queryRoute) check(keys []string) ([]*errdetails.BadRequest_FieldViolation, string) {
	var vs []*errdetails.BadRequest_FieldViolation
	var descs []string
	for _, key := range keys {
		res := unknownParam
		if !r.noQuery {
			res = r.resolve(key)
		}
		var d string
		switch res {
		case unknownParam:
			d = fmt.Sprintf("unknown query parameter %q", key)
		case boundParam:
			d = fmt.Sprintf("query parameter %q sets what the path or the body sets", key)
		default:
			continue
		}
		vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: key, Description: d})
		descs = append(descs, d)
	}
	if len(vs) == 0 {
		return nil, ""
	}
	takes := r.method + " accepts: " + strings.Join(r.accepted, ", ")
	switch {
	case r.noQuery:
		takes = r.method + " takes its fields in the request body, not in the query"
	case len(r.accepted) == 0:
		takes = r.method + " takes no query parameters"
	}
	return vs, strings.Join(descs, "; ") + "; " + takes
}

type resolution int

const (
	knownParam resolution = iota
	unknownParam
	boundParam
)

// resolve follows key ("cpvCodes", "update_mask", "page.size") through
// the request message as grpc-gateway does, each part by its proto or its
// JSON name.
func (r *queryRoute) resolve(key string) resolution {
	msg := r.msg
	parts := strings.Split(key, ".")
	path := ""
	for i, part := range parts {
		f := msg.Fields().ByName(protoreflect.Name(part))
		if f == nil {
			f = msg.Fields().ByJSONName(part)
		}
		if f == nil {
			return unknownParam
		}
		path += string(f.Name())
		if r.bound[path] {
			return boundParam
		}
		last := i == len(parts)-1
		switch {
		case last && nested(f), !last && !nested(f):
			return unknownParam // a message is no value; a value has no fields
		case !last:
			msg, path = f.Message(), path+"."
		}
	}
	return knownParam
}

// strictQuery refuses a request with a query parameter that its route
// does not take: 400, naming the parameter and listing those it takes.
func (g *Gateway) strictQuery(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if r.URL.RawQuery != "" {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				if route := g.queries[routeKey(r.Method, p.String())]; route != nil {
					keys := make([]string, 0, 4)
					for k := range r.URL.Query() {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					if vs, msg := route.check(keys); len(vs) > 0 {
						st, _ := status.New(codes.InvalidArgument, msg).
							WithDetails(&errdetails.BadRequest{FieldViolations: vs})
						_, out := runtime.MarshalerForRequest(g.api, r)
						runtime.HTTPError(r.Context(), g.api, out, w, r, st.Err())
						return
					}
				}
			}
		}
		next(w, r, params)
	}
}
