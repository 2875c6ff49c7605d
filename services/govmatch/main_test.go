package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

// TestHelp: every command's -h prints its help and starts nothing, so the
// test returns instead of serving.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // in stdout or stderr
	}{
		{[]string{"-h"}, "Usage: govmatch [COMMAND] [ARGUMENTS]"},
		{[]string{"--help"}, `"govmatch COMMAND -h" prints a command's help`},
		{[]string{"help"}, "restore   put such a copy"},
		{[]string{"help", "backup"}, "Usage: govmatch backup DIR"},
		{[]string{"serve", "-h"}, "Usage: govmatch serve"},
		{[]string{"token", "-h"}, "-ttl duration"},
		{[]string{"import", "-h"}, "usage: govmatch import vendors [flags] FILE"},
		{[]string{"import", "vendors", "-h"}, "-batch int"},
		{[]string{"events", "-help"}, "deadletters   events a consumer gave up on"},
		{[]string{"audit", "verify", "-h"}, "-heads prints the"},
		{[]string{"backup", "-h"}, "On PostgreSQL use pg_dump"},
		{[]string{"restore", "-h"}, "must hold no"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), tc.args, envconfig.MapLookuper(map[string]string{"GOVMATCH_DATA_DIR": t.TempDir()}), &out, &errOut)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("run: %v", err)
			}
			if !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out.String(), errOut.String())
			}
		})
	}
}

func TestServeTakesNoArguments(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"serve", "extra"}, envconfig.MapLookuper(nil), new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "serve takes no arguments") {
		t.Errorf("run = %v", err)
	}
}

func TestReadyMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		dev  bool
		want string
	}{
		{"[::]:8080", true, "govmatch is ready: REST API http://localhost:8080/v1/needs, OpenAPI http://localhost:8080/openapi.json; a token for curl: make token ORG=stadt-giessen ROLE=buyer (README.md has the stories)"},
		{"0.0.0.0:8080", false, "govmatch is ready: REST API http://localhost:8080/v1/needs, OpenAPI http://localhost:8080/openapi.json"},
		{"127.0.0.1:43117", false, "govmatch is ready: REST API http://127.0.0.1:43117/v1/needs, OpenAPI http://127.0.0.1:43117/openapi.json"},
	} {
		if got := readyMessage(tc.addr, tc.dev); got != tc.want {
			t.Errorf("readyMessage(%q, %v)\n got %s\nwant %s", tc.addr, tc.dev, got, tc.want)
		}
	}
}
