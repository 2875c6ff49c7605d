package await

import (
	"errors"
	"testing"
)

func TestTrueReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	n := 0
	True(t, "third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
}

func TestNoErrorReturnsOnceNil(t *testing.T) {
	t.Parallel()
	n := 0
	NoError(t, "third poll", func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
}
