// Package telemetry sets up tracing, metrics and structured logging for a
// govmatch service: the first thing run() does and the last thing it undoes.
//
// Traces go to an OTLP collector when the standard OpenTelemetry environment
// asks for one; metrics are served in the Prometheus text format from a
// private registry; logs are JSON lines that carry the trace and span id of
// the context they were written with.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Config says who is reporting and where logs go.
type Config struct {
	// ServiceName is the OpenTelemetry service.name, e.g. "needs". Required.
	ServiceName string
	// ServiceVersion is the OpenTelemetry service.version, e.g. a git tag.
	ServiceVersion string
	// LogLevel is the lowest level that is logged.
	LogLevel slog.Level
	// LogWriter receives the JSON log lines; nil means os.Stderr.
	LogWriter io.Writer
}

// Telemetry holds the providers Setup installed. Shut it down last.
type Telemetry struct {
	logger  *slog.Logger
	metrics http.Handler
	tp      *sdktrace.TracerProvider
	mp      *sdkmetric.MeterProvider
}

// Setup installs the global TracerProvider, MeterProvider and W3C
// tracecontext+baggage propagator, and builds the service's logger.
//
// Traces are exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTEL_EXPORTER_OTLP_PROTOCOL (or
// its _TRACES_ variant) chooses "http/protobuf" (the default) or "grpc". The
// exporters read the rest of the OTEL_* variables themselves. Without an
// endpoint spans are still created, so log lines keep their trace ids.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		return nil, errors.New("telemetry: ServiceName is required")
	}
	if cfg.LogWriter == nil {
		cfg.LogWriter = os.Stderr
	}

	// Later detectors win, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// can still override what the code says, as operators expect.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(cfg.ServiceName),
			semconv.ServiceVersion(cfg.ServiceVersion),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	// The OTEL_* variables are the exporters' own configuration interface
	// (they read them too), so this is the one place outside main that
	// looks at the environment: only to decide whether to export at all.
	exp, err := newTraceExporter(ctx, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if exp != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	registry := prometheus.NewRegistry()
	if err := registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: go collector: %w", err), tp.Shutdown(ctx))
	}
	if err := registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: process collector: %w", err), tp.Shutdown(ctx))
	}
	reader, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: prometheus exporter: %w", err), tp.Shutdown(ctx))
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))

	logger := slog.New(NewTraceHandler(slog.NewJSONHandler(cfg.LogWriter, &slog.HandlerOptions{
		Level: cfg.LogLevel,
	}))).With(slog.String("service", cfg.ServiceName))

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{},
	))
	// Export failures would otherwise go to the standard logger as plain
	// text, outside the JSON log stream.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", slog.Any("err", err))
	}))

	metrics := promhttp.HandlerFor(registry, promhttp.HandlerOpts{
		Registry:          registry, // counts failed scrapes in the same registry
		EnableOpenMetrics: true,
	})
	return &Telemetry{logger: logger, metrics: metrics, tp: tp, mp: mp}, nil
}

// newTraceExporter returns the OTLP exporter the environment asks for, or
// nil when no endpoint is configured.
func newTraceExporter(ctx context.Context, lookup func(string) (string, bool)) (sdktrace.SpanExporter, error) {
	if !otlpConfigured(lookup) {
		return nil, nil
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol := otlpProtocol(lookup); protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("telemetry: OTLP protocol %q not supported (use http/protobuf or grpc)", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
	}
	return exp, nil
}

func otlpConfigured(lookup func(string) (string, bool)) bool {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// otlpProtocol follows the specification: the signal-specific variable wins
// over the general one, and http/protobuf is the default.
func otlpProtocol(lookup func(string) (string, bool)) string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return "http/protobuf"
}

// Logger is the service's JSON logger. Pass it a context (InfoContext,
// LogAttrs, ...) so that lines carry trace_id and span_id.
func (t *Telemetry) Logger() *slog.Logger { return t.logger }

// MetricsHandler serves the metrics of the private registry: everything
// recorded through the global MeterProvider plus the Go runtime and process
// collectors.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// Shutdown flushes pending spans and stops both providers. Call it last, so
// that the spans of everything shut down before are exported.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.mp.Shutdown(ctx), t.tp.Shutdown(ctx))
}
