package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
)

// TestDeadLettersCommand: `govmatch events deadletters` lists what the
// running monolith set aside, and `govmatch events replay ID` hands it to
// matching's subscription again, which here fails once more (the letter
// is no event at all), so the letter stays with the attempt counted and
// the request withdrawn.
func TestDeadLettersCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startMonolith(t, "", false, "GOVMATCH_DATA_DIR", dir)
	env := envconfig.MapLookuper(map[string]string{"GOVMATCH_DATA_DIR": dir})
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env, &out, &errOut)
		return out.String() + errOut.String(), err
	}

	if out, err := cli("events", "deadletters"); err != nil || !strings.Contains(out, "no dead letters") {
		t.Fatalf("deadletters on a fresh system = %q, %v; want none (and the store the server opened)", out, err)
	}
	cfg, err := loadConfig(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	dls, err := eventbus.OpenSQLiteDeadLetters(context.Background(), cfg.deadLettersPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dls.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	poison := eventbus.DeadLetter{
		Stream: "needs", Group: cfg.MatchingGroup, ID: "needs-42", Aggregate: "needs/need/x", Type: "NeedChanged",
		Attempts: 5, LastError: "cannot apply", FirstFailure: now, LastFailure: now, Data: []byte{0xff, 0xff},
	}
	if err := dls.Put(context.Background(), poison); err != nil {
		t.Fatal(err)
	}

	out, err := cli("events", "deadletters")
	if err != nil || !strings.Contains(out, "needs-42") || !strings.Contains(out, "cannot apply") {
		t.Fatalf("deadletters = %q, %v; want the letter with its error", out, err)
	}
	t.Logf("govmatch events deadletters:\n%s", out)
	if out, err := cli("events", "replay", "needs-41"); err == nil || !strings.Contains(err.Error(), "needs-41") {
		t.Errorf("replay of an unknown id = %q, %v; want an error naming it", out, err)
	}
	if out, err := cli("events", "replay"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("replay without an id = %q, %v; want the usage", out, err)
	}
	if out, err := cli("events", "replay", "needs-42"); err != nil || !strings.Contains(out, "needs-42") {
		t.Fatalf("replay = %q, %v", out, err)
	}

	// The running subscription picks the request up: an undecodable
	// letter fails again and comes back with one more attempt. (The
	// subscription looks for replay requests once a second.)
	await.NoError(t, "the server takes up the replay", func() error {
		got, err := dls.List(context.Background(), eventbus.Filter{ID: poison.ID})
		if err != nil {
			return err
		}
		if len(got) == 1 && got[0].Attempts == 6 && got[0].ReplayRequested.IsZero() {
			t.Logf("after the replay: %d attempts, last error %q", got[0].Attempts, got[0].LastError)
			return nil
		}
		return fmt.Errorf("dead letters: %+v", got)
	})
}
