package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func setup(t *testing.T, w io.Writer) *Telemetry {
	t.Helper()
	tel, err := Setup(t.Context(), Config{
		ServiceName:    "telemetry-test",
		ServiceVersion: "v0.0.0-test",
		LogLevel:       slog.LevelDebug,
		LogWriter:      w,
	})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tel
}

func TestSetupRequiresServiceName(t *testing.T) {
	t.Parallel()
	if _, err := Setup(t.Context(), Config{}); err == nil {
		t.Fatal("Setup without ServiceName: want error, got nil")
	}
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tel := setup(t, &buf)

	// The test uses its own provider rather than the global one, which
	// parallel tests replace.
	ctx, span := tel.tp.Tracer("test").Start(t.Context(), "op")
	tel.Logger().InfoContext(ctx, "inside")
	span.End()
	tel.Logger().InfoContext(t.Context(), "outside")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), buf.String())
	}
	type line struct {
		Level   string `json:"level"`
		Msg     string `json:"msg"`
		Service string `json:"service"`
		TraceID string `json:"trace_id"`
		SpanID  string `json:"span_id"`
	}
	var got []line
	for _, l := range lines {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, l)
		}
		got = append(got, v)
	}
	sc := span.SpanContext()
	want := []line{
		{Level: "INFO", Msg: "inside", Service: "telemetry-test", TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String()},
		{Level: "INFO", Msg: "outside", Service: "telemetry-test"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

func TestMetricsHandlerExposesOTelCounter(t *testing.T) {
	t.Parallel()
	tel := setup(t, io.Discard)

	counter, err := tel.mp.Meter("test").Int64Counter("govmatch_test_events")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(t.Context(), 3)

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"govmatch_test_events_total{",
		"go_goroutines ",            // runtime collector
		"process_cpu_seconds_total", // process collector
		`service_name="telemetry-test"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if !containsLine(body, "govmatch_test_events_total{", " 3") {
		t.Errorf("counter value 3 not exposed:\n%s", body)
	}
}

func containsLine(body, prefix, suffix string) bool {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

func TestOTLPEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          map[string]string
		wantExport   bool
		wantProtocol string
	}{
		{name: "nothing set", env: nil, wantExport: false, wantProtocol: "http/protobuf"},
		{name: "empty endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, wantExport: false, wantProtocol: "http/protobuf"},
		{name: "general endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, wantExport: true, wantProtocol: "http/protobuf"},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, wantExport: true, wantProtocol: "http/protobuf"},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantExport: true, wantProtocol: "grpc"},
		{
			name: "traces protocol wins",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":        "collector:4317",
				"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
			},
			wantExport: true, wantProtocol: "grpc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			if got := otlpConfigured(lookup); got != tt.wantExport {
				t.Errorf("otlpConfigured = %v, want %v", got, tt.wantExport)
			}
			if got := otlpProtocol(lookup); got != tt.wantProtocol {
				t.Errorf("otlpProtocol = %q, want %q", got, tt.wantProtocol)
			}
		})
	}
}

func TestUnsupportedOTLPProtocol(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
	_, err := newTraceExporter(t.Context(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "http/json") {
		t.Errorf("err = %v, want unsupported protocol error", err)
	}
}
