package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sethvargo/go-envconfig"
)

// Targets a process can run, as in Loki or Mimir: "all" is the monolith,
// each other target one microservice.
const (
	TargetAll      = "all"
	TargetNeeds    = "needs"
	TargetVendors  = "vendors"
	TargetMatching = "matching"
	TargetGateway  = "gateway"
)

var targets = []string{TargetAll, TargetNeeds, TargetVendors, TargetMatching, TargetGateway}

// Config is everything a govmatch process reads from its environment, read
// once in main and validated before anything starts.
type Config struct {
	// Target selects the services of this process.
	Target string `env:"GOVMATCH_TARGET, default=all"`
	// HTTPAddr is where the REST gateway listens (targets all, gateway).
	HTTPAddr string `env:"GOVMATCH_HTTP_ADDR, default=:8080"`
	// GRPCAddr is where the gRPC services listen. Empty means loopback
	// (127.0.0.1:9090) for the monolith, whose gateway is in the same
	// process, and every interface (:9090) for a service target.
	GRPCAddr string `env:"GOVMATCH_GRPC_ADDR"`
	// GRPCTrustedPeers are CIDRs of the gRPC peers (the gateway, the other
	// services) whose calls the gRPC servers do not rate-limit, because
	// they limit their own callers. Empty means none for the monolith (its
	// own calls are recognised otherwise) and the private networks for a
	// service target; "none" trusts no peer.
	GRPCTrustedPeers []string `env:"GOVMATCH_GRPC_TRUSTED_PEERS"`
	// GRPCReflection is "true" or "false": whether the gRPC servers offer
	// server reflection. Empty means true for the monolith only.
	GRPCReflection string `env:"GOVMATCH_GRPC_REFLECTION"`
	// AdminAddr serves /metrics, /healthz and /readyz of every process,
	// for the operators' network only. Empty means loopback
	// (127.0.0.1:9091) for the monolith and every interface (:9091) for a
	// service target, whose metrics a cluster's Prometheus scrapes.
	AdminAddr string `env:"GOVMATCH_ADMIN_ADDR"`
	// NeedsAddr is the gRPC address of the needs service for the gateway;
	// in the monolith it defaults to this process.
	NeedsAddr string `env:"GOVMATCH_NEEDS_ADDR"`
	// VendorsAddr is the gRPC address of the vendor registry for the
	// gateway; in the monolith it defaults to this process.
	VendorsAddr string `env:"GOVMATCH_VENDORS_ADDR"`
	// MatchingAddr is the gRPC address of the matching service for the
	// gateway; in the monolith it defaults to this process.
	MatchingAddr string `env:"GOVMATCH_MATCHING_ADDR"`
	// DataDir holds the embedded SQLite database and the development
	// issuer's key.
	DataDir string `env:"GOVMATCH_DATA_DIR, default=./data"`
	// DatabaseURL selects PostgreSQL instead of the embedded SQLite.
	DatabaseURL string `env:"DATABASE_URL"`
	// RedisURL is the Redis of the microservices mode.
	RedisURL string `env:"REDIS_URL"`
	// RedisPrefix starts every Redis key, so that several installations
	// (or tests) can share one Redis.
	RedisPrefix string `env:"GOVMATCH_REDIS_PREFIX, default=govmatch:"`
	// DemoData loads the demo data set on first start (an empty database):
	// "true" or "false"; empty means true for the monolith only.
	DemoData string `env:"GOVMATCH_DEMO_DATA"`
	// OIDC settings. Without an issuer the development issuer is used,
	// which the monolith on SQLite does on its own and anything else only
	// with UnsafeDevIssuer.
	OIDCIssuerURL string `env:"OIDC_ISSUER_URL"`
	OIDCAudience  string `env:"OIDC_AUDIENCE, default=govmatch"`
	OIDCOrgClaim  string `env:"OIDC_ORG_CLAIM, default=org"`
	// MatchingGroup is the consumer group the matching read model reads
	// the event streams as. Every matching replica needs its own (each
	// keeps a whole index): give each a stable name, e.g. its pod name.
	MatchingGroup string `env:"GOVMATCH_MATCHING_GROUP, default=matching"`
	// ServiceTokenFile holds the bearer token matching presents to the
	// registries to rebuild its index, drafts included (a service account
	// with the admin role). Without it, the development issuer mints one;
	// with OIDC and no file, drafts reach matching through events only.
	ServiceTokenFile string `env:"GOVMATCH_SERVICE_TOKEN_FILE"`
	// UnsafeDevIssuer lets a configuration that looks like production
	// (PostgreSQL, Redis, a single service) run with the development
	// issuer, whose key anyone who can read the data directory can use to
	// mint an admin token. For tests and trials on one machine only.
	UnsafeDevIssuer bool `env:"GOVMATCH_UNSAFE_DEV_ISSUER, default=false"`
	// noAudit leaves the audit trail out, for the benchmark that measures
	// what it costs; no setting reaches it, since procurement law wants
	// every change recorded.
	noAudit bool
	// DevIssuerURL is the "iss" of development tokens.
	DevIssuerURL string `env:"GOVMATCH_DEV_ISSUER_URL, default=http://localhost:8080/dev-issuer"`
	// RateLimit is how many API requests per second one client (address or
	// token) may make on average, RateBurst how many at once; 0 disables
	// limiting.
	RateLimit float64 `env:"GOVMATCH_RATE_LIMIT, default=20"`
	RateBurst int     `env:"GOVMATCH_RATE_BURST, default=60"`
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For the
	// gateway believes.
	TrustedProxies []string `env:"GOVMATCH_TRUSTED_PROXIES"`
	// MaxBodyBytes limits REST request bodies.
	MaxBodyBytes int64 `env:"GOVMATCH_MAX_BODY_BYTES, default=1048576"`
	// GatewayCopyBytes bounds the gateway's revalidated copies of tagged
	// answers; 0 means none.
	GatewayCopyBytes int64 `env:"GOVMATCH_GATEWAY_COPY_BYTES, default=67108864"`
	// MatchCache is "on" or "off": whether matching caches its answers
	// (in Redis with REDIS_URL, else in process).
	MatchCache string `env:"GOVMATCH_MATCH_CACHE, default=on"`
	// MatchCacheRedisCluster, when set, is a Redis Cluster that holds the
	// match cache instead of REDIS_URL's Redis, as
	// redis://host1:6379?addr=host2:6379&addr=host3:6379 (go-redis's
	// cluster URL): the cache is the one large Redis tenant, and its keys
	// spread over a cluster by their hash tags.
	MatchCacheRedisCluster string `env:"GOVMATCH_MATCH_CACHE_REDIS_CLUSTER"`
	// MatchCacheTimeout bounds each call of the match cache's Redis: a
	// slower answer counts as a failure, and the page is computed instead.
	MatchCacheTimeout time.Duration `env:"GOVMATCH_MATCH_CACHE_TIMEOUT, default=50ms"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
}

// namedByVariable replaces the Go field name envconfig starts its parse
// errors with ("MatchCacheTimeout: …") by the variable's, which is what an
// operator set.
func namedByVariable(err error) error {
	field, _, _ := strings.Cut(err.Error(), ": ")
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	cause := errors.Unwrap(err)
	if !ok || cause == nil {
		return err
	}
	name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return fmt.Errorf("%s: %w", name, cause)
}

// consumerGroupName is what a consumer group may be called: a DNS label,
// as a Kubernetes pod name is.
var consumerGroupName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// loadConfig reads the configuration from lookuper (the environment in
// production, a map in tests) and validates it.
func loadConfig(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return c, fmt.Errorf("read configuration: %w", namedByVariable(err))
	}
	if !slices.Contains(targets, c.Target) {
		return c, fmt.Errorf("GOVMATCH_TARGET=%q: want one of %s", c.Target, strings.Join(targets, ", "))
	}
	if c.Target == TargetGateway && (c.NeedsAddr == "" || c.VendorsAddr == "") {
		// GOVMATCH_MATCHING_ADDR is optional: without it no matching routes.
		return c, fmt.Errorf("GOVMATCH_NEEDS_ADDR and GOVMATCH_VENDORS_ADDR are required for target %q", c.Target)
	}
	if c.Target == TargetMatching && (c.NeedsAddr == "" || c.VendorsAddr == "" || c.RedisURL == "") {
		// It rebuilds its index from the registries and follows their
		// events, which cross processes only through Redis.
		return c, fmt.Errorf("GOVMATCH_NEEDS_ADDR, GOVMATCH_VENDORS_ADDR and REDIS_URL are required for target %q", c.Target)
	}
	if !consumerGroupName.MatchString(c.MatchingGroup) {
		return c, fmt.Errorf("GOVMATCH_MATCHING_GROUP=%q: want 1 to 63 lower-case letters, digits and dashes", c.MatchingGroup)
	}
	switch c.DemoData {
	case "":
		c.DemoData = strconv.FormatBool(c.Target == TargetAll)
	case "true", "false":
	default:
		return c, fmt.Errorf("GOVMATCH_DEMO_DATA=%q: want true or false", c.DemoData)
	}
	if c.AdminAddr == "" {
		c.AdminAddr = ":9091"
		if c.Target == TargetAll {
			c.AdminAddr = "127.0.0.1:9091"
		}
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = ":9090"
		if c.Target == TargetAll {
			c.GRPCAddr = "127.0.0.1:9090"
		}
	}
	switch c.GRPCReflection {
	case "":
		c.GRPCReflection = strconv.FormatBool(c.Target == TargetAll)
	case "true", "false":
	default:
		return c, fmt.Errorf("GOVMATCH_GRPC_REFLECTION=%q: want true or false", c.GRPCReflection)
	}
	if _, err := c.grpcTrustedPeers(); err != nil {
		return c, err
	}
	if c.MatchCache != "on" && c.MatchCache != "off" {
		return c, fmt.Errorf("GOVMATCH_MATCH_CACHE=%q: want on or off", c.MatchCache)
	}
	if c.MatchCacheTimeout <= 0 {
		return c, fmt.Errorf("GOVMATCH_MATCH_CACHE_TIMEOUT=%v: want a positive duration such as 50ms", c.MatchCacheTimeout)
	}
	if c.MaxBodyBytes <= 0 {
		return c, fmt.Errorf("GOVMATCH_MAX_BODY_BYTES must be positive")
	}
	if c.GatewayCopyBytes < 0 {
		return c, fmt.Errorf("GOVMATCH_GATEWAY_COPY_BYTES must be 0 (none) or positive")
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateBurst < 1) {
		return c, fmt.Errorf("GOVMATCH_RATE_LIMIT must be 0 (off) or positive with GOVMATCH_RATE_BURST at least 1")
	}
	if _, err := c.trustedProxies(); err != nil {
		return c, err
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			return c, fmt.Errorf("REDIS_URL: %w", err)
		}
	}
	if c.MatchCacheRedisCluster != "" {
		if _, err := redis.ParseClusterURL(c.MatchCacheRedisCluster); err != nil {
			return c, fmt.Errorf("GOVMATCH_MATCH_CACHE_REDIS_CLUSTER: %w", err)
		}
		if !c.matchCache() {
			return c, errors.New("GOVMATCH_MATCH_CACHE_REDIS_CLUSTER is set but GOVMATCH_MATCH_CACHE=off")
		}
	}
	if err := (&slog.LevelVar{}).UnmarshalText([]byte(c.LogLevel)); err != nil {
		return c, fmt.Errorf("LOG_LEVEL=%q: %w", c.LogLevel, err)
	}
	return c, nil
}

// trustedProxies parses GOVMATCH_TRUSTED_PROXIES.
func (c Config) trustedProxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("GOVMATCH_TRUSTED_PROXIES: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// privateNetworks are where a service's peers are in a cluster: the
// gateway and the other services. NetworkPolicies decide who else gets
// there.
var privateNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// grpcTrustedPeers parses GOVMATCH_GRPC_TRUSTED_PEERS, with the default
// of the target.
func (c Config) grpcTrustedPeers() ([]netip.Prefix, error) {
	list := c.GRPCTrustedPeers
	switch {
	case len(list) == 1 && strings.TrimSpace(list[0]) == "none":
		return nil, nil
	case len(list) == 0 && c.Target != TargetAll:
		list = privateNetworks
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("GOVMATCH_GRPC_TRUSTED_PEERS: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// devIssuerAllowed reports whether the development issuer may verify
// tokens: in the monolith on SQLite, which is a developer's machine, or
// when the operator said so in as many words.
func (c Config) devIssuerAllowed() bool {
	return c.UnsafeDevIssuer || (c.Target == TargetAll && c.DatabaseURL == "" && c.RedisURL == "")
}

// grpcReflection reports whether the gRPC servers offer reflection.
func (c Config) grpcReflection() bool { return c.GRPCReflection == "true" }

// matchCache reports whether matching caches its answers.
func (c Config) matchCache() bool { return c.MatchCache == "on" }

// demo reports whether to load demo data.
func (c Config) demo() bool { return c.DemoData == "true" }

// runsAnyService reports whether this process serves gRPC services.
func (c Config) runsAnyService() bool {
	return c.runs(TargetNeeds) || c.runs(TargetVendors) || c.runs(TargetMatching)
}

// runs reports whether this process runs the named service.
func (c Config) runs(target string) bool { return c.Target == TargetAll || c.Target == target }

// sqlitePath is the embedded database of a service.
func (c Config) sqlitePath(service string) string {
	return filepath.Join(c.DataDir, service+".db")
}

// deadLettersPath is the SQLite file of the dead letters when events
// stay in this process.
func (c Config) deadLettersPath() string { return filepath.Join(c.DataDir, "deadletters.db") }

// devKeyPath is the development issuer's signing key.
func (c Config) devKeyPath() string { return filepath.Join(c.DataDir, "dev-issuer.pem") }

// LogValue logs the configuration with secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("target", c.Target),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("admin_addr", c.AdminAddr),
		slog.String("needs_addr", c.NeedsAddr),
		slog.String("vendors_addr", c.VendorsAddr),
		slog.String("matching_addr", c.MatchingAddr),
		slog.String("data_dir", c.DataDir),
		slog.String("database_url", maskURL(c.DatabaseURL)),
		slog.String("redis_url", maskURL(c.RedisURL)),
		slog.String("redis_prefix", c.RedisPrefix),
		slog.String("demo_data", c.DemoData),
		slog.String("oidc_issuer_url", c.OIDCIssuerURL),
		slog.Bool("unsafe_dev_issuer", c.UnsafeDevIssuer),
		slog.Any("grpc_trusted_peers", c.GRPCTrustedPeers),
		slog.String("grpc_reflection", c.GRPCReflection),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Int("rate_burst", c.RateBurst),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.String("match_cache", c.MatchCache),
		slog.String("log_level", c.LogLevel),
	)
}

// keywordPassword finds the password of a key=value DSN
// ("host=db password='a b' dbname=x"), quoted or not.
var keywordPassword = regexp.MustCompile(`(?i)\b(\w*password)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// maskURL hides the passwords of a connection URL or key=value DSN, for
// logs: in the user info and in query parameters (?password=…).
func maskURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(s, "://"):
		return "(set, not a URL)" // where the password ends is anyone's guess
	case err != nil || u.Scheme == "":
		return keywordPassword.ReplaceAllString(s, "${1}=xxxxx")
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	masked := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
