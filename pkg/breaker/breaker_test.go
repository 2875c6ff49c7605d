package breaker

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

type levels struct {
	mu  sync.Mutex
	got []string
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *levels) WithGroup(string) slog.Handler            { return l }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, r.Level.String())
	return nil
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	logs := &levels{}
	b := New(time.Hour, slog.New(logs), "down", "up")
	ctx := t.Context()
	if b.Open() || !b.Try() || !b.Try() {
		t.Fatal("a new breaker must be closed and let every caller through")
	}
	b.Failed(ctx, "error", "boom")
	if !b.Open() || b.Try() {
		t.Fatal("after a failure the breaker must be open and hold callers back until the probe interval passed")
	}
	b.nextProbe.Store(time.Now().UnixNano()) // the probe interval passed
	if !b.Try() || b.Try() {
		t.Error("once the interval passed, exactly one caller may probe")
	}
	b.Failed(ctx) // a failed probe: no second warning within LogInterval
	b.Succeeded(ctx)
	if b.Open() || !b.Try() {
		t.Error("a success must close the breaker")
	}
	b.Succeeded(ctx) // closed already: nothing to log
	if want := []string{"WARN", "INFO"}; !slices.Equal(logs.got, want) {
		t.Errorf("logs %v, want %v", logs.got, want)
	}
}
