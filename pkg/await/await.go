// Package await lets tests wait for a condition instead of for a time.
//
// A test that sleeps "long enough" fails on a loaded machine, and one that
// polls with a tight deadline does too. await polls until the condition
// holds; its bound is only a safety net against a condition that never
// comes, generous enough that load alone never reaches it, and a failure
// says what was awaited and the last reason it did not hold.
package await

import (
	"errors"
	"testing"
	"time"
)

// Bound is how long a condition may take before the test fails: far
// beyond what any condition needs on an idle machine, so that reaching it
// means the condition will not come.
const Bound = 2 * time.Minute

// interval is the pause between polls; short, since most conditions are
// cheap to check.
const interval = 10 * time.Millisecond

// True polls cond until it returns true and fails the test (naming what)
// when it does not within Bound.
func True(t testing.TB, what string, cond func() bool) {
	t.Helper()
	NoError(t, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// NoError polls cond until it returns nil and fails the test (naming what,
// with cond's last error) when it does not within Bound.
func NoError(t testing.TB, what string, cond func() error) {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Since(start) > Bound {
			t.Fatalf("%s: still not after %v: %v", what, Bound, err)
		}
		time.Sleep(interval)
	}
}

var errNotYet = errors.New("condition false")
