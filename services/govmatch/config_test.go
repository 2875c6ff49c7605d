package main

import (
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestLoadConfigRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // empty: valid
	}{
		{name: "defaults", env: map[string]string{}},
		{name: "unknown target", env: map[string]string{"GOVMATCH_TARGET": "search"}, wantErr: "GOVMATCH_TARGET"},
		{name: "matching without registries", env: map[string]string{"GOVMATCH_TARGET": "matching", "REDIS_URL": "redis://127.0.0.1:6379/0"}, wantErr: "GOVMATCH_NEEDS_ADDR"},
		{name: "replica group", env: map[string]string{"GOVMATCH_MATCHING_GROUP": "matching-1"}},
		{name: "group with upper case", env: map[string]string{"GOVMATCH_MATCHING_GROUP": "Matching"}, wantErr: "GOVMATCH_MATCHING_GROUP"},
		{name: "group with a colon", env: map[string]string{"GOVMATCH_MATCHING_GROUP": "matching:1"}, wantErr: "GOVMATCH_MATCHING_GROUP"},
		{name: "group ending in a dash", env: map[string]string{"GOVMATCH_MATCHING_GROUP": "matching-"}, wantErr: "GOVMATCH_MATCHING_GROUP"},
		{name: "group too long", env: map[string]string{"GOVMATCH_MATCHING_GROUP": strings.Repeat("m", 64)}, wantErr: "GOVMATCH_MATCHING_GROUP"},
		{name: "demo data neither true nor false", env: map[string]string{"GOVMATCH_DEMO_DATA": "yes"}, wantErr: "GOVMATCH_DEMO_DATA"},
		{name: "rate limit not a number", env: map[string]string{"GOVMATCH_RATE_LIMIT": "lots"}, wantErr: "GOVMATCH_RATE_LIMIT"},
		{name: "negative rate limit", env: map[string]string{"GOVMATCH_RATE_LIMIT": "-1"}, wantErr: "GOVMATCH_RATE_LIMIT"},
		{name: "negative copy bytes", env: map[string]string{"GOVMATCH_GATEWAY_COPY_BYTES": "-1"}, wantErr: "GOVMATCH_GATEWAY_COPY_BYTES"},
		{name: "no copies", env: map[string]string{"GOVMATCH_GATEWAY_COPY_BYTES": "0"}},
		{name: "cache cluster", env: map[string]string{"GOVMATCH_MATCH_CACHE_REDIS_CLUSTER": "redis://127.0.0.1:7000?addr=127.0.0.1:7001"}},
		{name: "cache cluster not a URL", env: map[string]string{"GOVMATCH_MATCH_CACHE_REDIS_CLUSTER": "tcp://x:1"}, wantErr: "GOVMATCH_MATCH_CACHE_REDIS_CLUSTER"},
		{name: "cache timeout", env: map[string]string{"GOVMATCH_MATCH_CACHE_TIMEOUT": "250ms"}},
		{name: "cache timeout zero", env: map[string]string{"GOVMATCH_MATCH_CACHE_TIMEOUT": "0s"}, wantErr: "GOVMATCH_MATCH_CACHE_TIMEOUT"},
		{name: "cache timeout without unit", env: map[string]string{"GOVMATCH_MATCH_CACHE_TIMEOUT": "50"}, wantErr: "GOVMATCH_MATCH_CACHE_TIMEOUT"},
		{name: "reflection neither true nor false", env: map[string]string{"GOVMATCH_GRPC_REFLECTION": "on"}, wantErr: "GOVMATCH_GRPC_REFLECTION"},
		{name: "trusted peer not a CIDR", env: map[string]string{"GOVMATCH_GRPC_TRUSTED_PEERS": "10.0.0.1"}, wantErr: "GOVMATCH_GRPC_TRUSTED_PEERS"},
		{name: "unsafe issuer not a bool", env: map[string]string{"GOVMATCH_UNSAFE_DEV_ISSUER": "maybe"}, wantErr: "GOVMATCH_UNSAFE_DEV_ISSUER"},
		{name: "cache cluster with the cache off", env: map[string]string{"GOVMATCH_MATCH_CACHE_REDIS_CLUSTER": "redis://127.0.0.1:7000", "GOVMATCH_MATCH_CACHE": "off"}, wantErr: "GOVMATCH_MATCH_CACHE=off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(context.Background(), envconfig.MapLookuper(tt.env))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("loadConfig: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("loadConfig = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestMaskURL: no password of a connection string reaches the logs, in
// whichever form the operator wrote it.
func TestMaskURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://govmatch:s3cret@db:5432/govmatch?sslmode=require", "postgres://govmatch:xxxxx@db:5432/govmatch?sslmode=require"},
		{"postgres://db/govmatch?user=govmatch&password=s3cret", "postgres://db/govmatch?password=xxxxx&user=govmatch"},
		{"postgres://db/govmatch?sslpassword=s3cret", "postgres://db/govmatch?sslpassword=xxxxx"},
		{"redis://:s3cret@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"redis://cache:6379/0", "redis://cache:6379/0"},
		{"host=db user=govmatch password=s3cret dbname=govmatch", "host=db user=govmatch password=xxxxx dbname=govmatch"},
		{"host=db password = 's3 cret\\' x' dbname=govmatch", "host=db password=xxxxx dbname=govmatch"},
		{"host=db PASSWORD=s3cret", "host=db PASSWORD=xxxxx"},
		{"postgres://govmatch:s3c%ret@db/govmatch", "(set, not a URL)"},
	}
	for _, tt := range tests {
		if got := maskURL(tt.in); got != tt.want || strings.Contains(got, "s3") {
			t.Errorf("maskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
