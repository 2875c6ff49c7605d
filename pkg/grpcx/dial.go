package grpcx

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Dial returns a client connection to target ("host:port" or any gRPC name
// such as "dns:///needs:9090") for calls between govmatch services and from
// the gateway:
//
//   - plaintext: the services talk over loopback or the cluster network,
//     where the platform provides transport security; pass
//     grpc.WithTransportCredentials in opts to override (later options win);
//   - the otelgrpc client stats handler, so traces continue into the callee
//     (health checks are left out);
//   - keepalive pings every 30s, so a dead peer is noticed between calls;
//   - round-robin over the resolved addresses, and up to 3 attempts with
//     backoff on UNAVAILABLE for methods that only read: those mapped to
//     HTTP GET or marked with an idempotency_level in their proto. Writes
//     are never retried by the client.
//
// Like grpc.NewClient it does not connect; the first call does. ctx is not
// used today and is there so that callers need not change if dialing ever
// has to block (e.g. to fetch credentials).
func Dial(ctx context.Context, target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	_ = ctx
	cfg, err := defaultServiceConfig()
	if err != nil {
		return nil, fmt.Errorf("grpcx: service config: %w", err)
	}
	all := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
		)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                30 * time.Second,
			Timeout:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultServiceConfig(cfg),
	}
	conn, err := grpc.NewClient(target, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("grpcx: dial %s: %w", target, err)
	}
	return conn, nil
}

// defaultServiceConfig is computed once, after every linked proto package
// has registered its descriptors.
var defaultServiceConfig = sync.OnceValues(func() (string, error) {
	return serviceConfig(protoregistry.GlobalFiles)
})

// The JSON shapes of https://github.com/grpc/grpc/blob/master/doc/service_config.md.
type (
	serviceConfigJSON struct {
		LoadBalancingConfig []map[string]struct{} `json:"loadBalancingConfig"`
		MethodConfig        []methodConfigJSON    `json:"methodConfig,omitempty"`
	}
	methodConfigJSON struct {
		Name        []methodNameJSON `json:"name"`
		RetryPolicy retryPolicyJSON  `json:"retryPolicy"`
	}
	methodNameJSON struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	retryPolicyJSON struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
)

// serviceConfig builds the default service config for the services in
// files.
func serviceConfig(files *protoregistry.Files) (string, error) {
	cfg := serviceConfigJSON{
		LoadBalancingConfig: []map[string]struct{}{{"round_robin": {}}},
	}
	if reads := readMethods(files); len(reads) > 0 {
		cfg.MethodConfig = []methodConfigJSON{{
			Name: reads,
			RetryPolicy: retryPolicyJSON{
				MaxAttempts:          3,
				InitialBackoff:       "0.1s",
				MaxBackoff:           "1s",
				BackoffMultiplier:    2,
				RetryableStatusCodes: []string{"UNAVAILABLE"},
			},
		}}
	}
	b, err := json.Marshal(cfg)
	return string(b), err
}

// readMethods lists the methods that are safe to retry: mapped to HTTP GET
// (AIP-131, AIP-132) or declared free of side effects or idempotent.
func readMethods(files *protoregistry.Files) []methodNameJSON {
	var names []methodNameJSON
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		services := fd.Services()
		for i := range services.Len() {
			sd := services.Get(i)
			methods := sd.Methods()
			for j := range methods.Len() {
				if md := methods.Get(j); isRead(md) {
					names = append(names, methodNameJSON{Service: string(sd.FullName()), Method: string(md.Name())})
				}
			}
		}
		return true
	})
	// Files come in map order; a stable config is easier to read in a debugger.
	slices.SortFunc(names, func(a, b methodNameJSON) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Method, b.Method))
	})
	return names
}

func isRead(md protoreflect.MethodDescriptor) bool {
	if md.IsStreamingClient() {
		return false
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return false
	}
	if opts.GetIdempotencyLevel() != descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN {
		return true
	}
	rule, ok := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	return ok && rule.GetGet() != ""
}
