package grpcx_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
)

var needFields = (&needsv1.Need{}).ProtoReflect().Descriptor()

// FuzzUpdateMask: whatever paths a client sends, the mask resolves to
// writable fields only, each once, or fails with violations naming
// update_mask paths.
func FuzzUpdateMask(f *testing.F) {
	all := []string{"title", "problem_statement", "cpv_codes"}
	for _, s := range []string{"title", "*", "problemStatement,cpvCodes", "state", "name,etag", "budget.min_eur", "title,title", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		paths := strings.Split(joined, ",")
		got, err := grpcx.UpdateMask(needFields, paths, all)
		if err != nil {
			var ve *errdefs.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("UpdateMask(%q) = %v, want field violations", paths, err)
			}
			for _, v := range ve.Violations {
				if !strings.HasPrefix(v.Field, "update_mask.paths[") {
					t.Errorf("violation names %q", v.Field)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, g := range got {
			fd := needFields.Fields().ByName(protoreflect.Name(g))
			if fd == nil || seen[g] || g == "name" || g == "etag" || g == "state" || g == "create_time" {
				t.Errorf("UpdateMask(%q) = %q: %q is no writable field or repeated", paths, got, g)
			}
			seen[g] = true
		}
		if slices.Contains(paths, "*") {
			for _, a := range all {
				if !seen[a] {
					t.Errorf("UpdateMask(%q) = %q lacks %q", paths, got, a)
				}
			}
		}
	})
}
