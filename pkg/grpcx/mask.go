package grpcx

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/govmatch/govmatch/pkg/errdefs"
)

// UpdateMask resolves the paths of an update_mask against md, the message
// an update changes, to the proto names of the top-level fields to update,
// each once, in the order first named. "*" stands for all, the fields the
// update may change.
//
// A path's first segment may be spelled as in proto ("cpv_codes") or as in
// JSON ("cpvCodes"): a FieldMask's JSON form is lowerCamelCase, and REST
// clients write ?updateMask= by hand, so both spellings must mean the same.
// They do for every kind of field:
//   - the identifier (name) and etag identify and guard the resource and
//     change nothing; they are skipped, since REST derives the mask from
//     the body's keys and a body carries both;
//   - an output-only field (google.api.field_behavior) is rejected, naming
//     the path: silently dropping it would let a client believe it changed
//     something the server sets;
//   - a sub-path ("products.licence") stands for its whole field when that
//     field is in subPaths, and is rejected otherwise;
//   - a path naming no field is rejected.
func UpdateMask(md protoreflect.MessageDescriptor, paths, all []string, subPaths ...string) ([]string, error) {
	var v errdefs.Violations
	out := make([]string, 0, len(paths))
	seen := make(map[string]bool, len(paths))
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for i, p := range paths {
		field := "update_mask.paths[" + strconv.Itoa(i) + "]"
		if p == "*" {
			for _, f := range all {
				add(f)
			}
			continue
		}
		first, _, sub := strings.Cut(p, ".")
		fd := md.Fields().ByName(protoreflect.Name(first))
		if fd == nil {
			fd = md.Fields().ByJSONName(first)
		}
		switch {
		case fd == nil:
			v.Add(field, "%q is not a field of %s", p, md.Name())
		case hasBehavior(fd, annotations.FieldBehavior_IDENTIFIER) || fd.Name() == "etag":
		case hasBehavior(fd, annotations.FieldBehavior_OUTPUT_ONLY):
			v.Add(field, "%q is output only and cannot be updated", p)
		case sub && !slices.Contains(subPaths, string(fd.Name())):
			v.Add(field, "%q is not an updatable field", p)
		default:
			add(string(fd.Name()))
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func hasBehavior(fd protoreflect.FieldDescriptor, b annotations.FieldBehavior) bool {
	bs, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(bs, b)
}
