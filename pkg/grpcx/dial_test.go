package grpcx

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fakeFiles is a registry with one service whose methods cover every way a
// method can (not) count as a read.
func fakeFiles(t *testing.T) *protoregistry.Files {
	t.Helper()
	withHTTP := func(rule *annotations.HttpRule) *descriptorpb.MethodOptions {
		o := &descriptorpb.MethodOptions{}
		proto.SetExtension(o, annotations.E_Http, rule)
		return o
	}
	method := func(name string, opts *descriptorpb.MethodOptions, clientStreaming bool) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{
			Name:            proto.String(name),
			InputType:       proto.String(".fake.v1.M"),
			OutputType:      proto.String(".fake.v1.M"),
			Options:         opts,
			ClientStreaming: proto.Bool(clientStreaming),
		}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("fake/v1/fake.proto"),
		Package:     proto.String("fake.v1"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("FakeService"),
			Method: []*descriptorpb.MethodDescriptorProto{
				method("GetThing", withHTTP(&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=things/*}"}}), false),
				method("ListThings", withHTTP(&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/things"}}), false),
				method("CreateThing", withHTTP(&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/things"}, Body: "thing"}), false),
				method("DeleteThing", withHTTP(&annotations.HttpRule{Pattern: &annotations.HttpRule_Delete{Delete: "/v1/{name=things/*}"}}), false),
				method("CountThings", &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()}, false),
				method("UploadThings", &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_IDEMPOTENT.Enum()}, true),
				method("Touch", nil, false),
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	return files
}

func TestServiceConfigRetriesReadsOnly(t *testing.T) {
	t.Parallel()
	cfg, err := serviceConfig(fakeFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	var got serviceConfigJSON
	if err := json.Unmarshal([]byte(cfg), &got); err != nil {
		t.Fatal(err)
	}
	want := serviceConfigJSON{
		LoadBalancingConfig: []map[string]struct{}{{"round_robin": {}}},
		MethodConfig: []methodConfigJSON{{
			Name: []methodNameJSON{
				{Service: "fake.v1.FakeService", Method: "CountThings"},
				{Service: "fake.v1.FakeService", Method: "GetThing"},
				{Service: "fake.v1.FakeService", Method: "ListThings"},
			},
			RetryPolicy: retryPolicyJSON{
				MaxAttempts: 3, InitialBackoff: "0.1s", MaxBackoff: "1s", BackoffMultiplier: 2,
				RetryableStatusCodes: []string{"UNAVAILABLE"},
			},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("service config (-want +got):\n%s", diff)
	}

	// gRPC itself must accept it.
	conn, err := grpc.NewClient("passthrough:///fake",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(cfg))
	if err != nil {
		t.Fatalf("gRPC rejects the service config: %v\n%s", err, cfg)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestServiceConfigWithoutReads(t *testing.T) {
	t.Parallel()
	cfg, err := serviceConfig(new(protoregistry.Files))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"loadBalancingConfig":[{"round_robin":{}}]}`, cfg); diff != "" {
		t.Errorf("service config (-want +got):\n%s", diff)
	}
}

func TestDialRejectsBadTarget(t *testing.T) {
	t.Parallel()
	if _, err := Dial(t.Context(), "unknownscheme:///x\x00"); err == nil {
		t.Error("Dial with an invalid target: want error")
	}
}
