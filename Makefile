# govmatch — the one place to learn how to work on the project.
#
#   make run     the whole system in one process (embedded SQLite, demo data)
#   make test    every test, with the race detector
#
# Everything else is for developers; `make help` lists it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
TOOLS   := $(CURDIR)/.tools
BUF     := $(TOOLS)/node_modules/.bin/buf
export PATH := $(TOOLS)/bin:$(PATH)

# Pinned tool versions. protoc-gen-go must match google.golang.org/protobuf
# in proto/go.mod.
BUF_VERSION                 := 1.75.0
GOOGLE_PROTO_FILES_VERSION  := 6.0.1
PROTOC_GEN_GO_VERSION       := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION  := v1.6.2
GRPC_GATEWAY_VERSION        := v2.33.0
STATICCHECK_VERSION         := v0.8.2

# Modules of the workspace (go.work).
MODULES := pkg proto services/needs services/vendors services/matching services/gateway services/govmatch
# The googleapis protos we import, copied from npm's google-proto-files.
GOOGLEAPIS := google/api/annotations.proto google/api/http.proto google/api/field_behavior.proto \
              google/api/resource.proto google/api/httpbody.proto google/type/date.proto

BREAKING_AGAINST ?= main
TEST_FLAGS ?= -race -shuffle=on -count=1 -timeout=20m
ORG  ?=
ROLE ?= buyer

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## run every service in one process on :8080 (REST) and :9090 (gRPC)
	@echo "building govmatch into bin/ (the first build compiles a few hundred packages and takes minutes)"
	@CGO_ENABLED=0 $(GO) build -v -o bin/govmatch ./services/govmatch 2>&1 | \
	  awk '/^[^ #]+$$/ { n++; printf "\r  %d packages compiled", n; fflush(); next } { if (n) print ""; n = 0; print } END { if (n) print "" }'
	@echo "starting bin/govmatch serve (Ctrl-C stops it)"
	@exec bin/govmatch serve

.PHONY: build
build: ## build bin/govmatch
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/govmatch ./services/govmatch

.PHONY: token
token: ## print a development token: make token ORG=stadt-giessen ROLE=buyer
	@$(GO) run ./services/govmatch token -org "$(ORG)" -role "$(ROLE)"

.PHONY: test
test: ## run all tests with the race detector
	$(GO) test $(TEST_FLAGS) $(addprefix ./,$(addsuffix /...,$(MODULES)))

.PHONY: fuzz
fuzz: ## run each fuzzer for FUZZTIME (default 30s) with FUZZPARALLEL workers (default one per CPU)
	@for spec in pkg/refdata:FuzzNormalizeCPV pkg/refdata:FuzzNormalizeRegion pkg/refdata:FuzzRegionFilterKey \
	  pkg/tags:FuzzNormalize pkg/auth:FuzzVerify pkg/identity:FuzzValidOrgID pkg/pagetoken:FuzzDecode pkg/audit:FuzzValidRequestID pkg/grpcx:FuzzUpdateMask \
	  services/needs/need:FuzzValidateFields services/needs/need:FuzzBuildQuery \
	  services/needs/refsearch:FuzzParseQuery services/vendors/profile:FuzzValidateFields services/vendors/profile:FuzzNormalizeLicence \
	  services/gateway/gateway:FuzzMatchesETag services/matching/grpcserver:FuzzPreviewNeed services/matching/score:FuzzRank \
	  services/govmatch:FuzzCSVRecords services/govmatch:FuzzJSONLRecords; do \
	  dir=$${spec%%:*}; fn=$${spec##*:}; log=$$(mktemp); \
	  echo "== $$dir $$fn"; $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$${FUZZTIME:-30s} $${FUZZPARALLEL:+-parallel=$$FUZZPARALLEL} ./$$dir/ 2>&1 | tee $$log; \
	  if grep -q '^ok' $$log; then rm -f $$log; \
	  elif grep -qx '    context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then rm -f $$log; \
	    echo "(not a finding: the fuzzing engine's race at the end of -fuzztime, go.dev/issue/75804)"; \
	  else rm -f $$log; exit 1; fi; \
	done

.PHONY: bench-gateway
bench-gateway: ## benchmark create and list through the REST gateway on SQLite and PostgreSQL
	$(GO) test -run='^$$' -bench=Gateway -benchtime=$${BENCHTIME:-3s} ./services/govmatch/

.PHONY: bench-audit
bench-audit: ## create needs through the gateway with and without the audit trail, alternating, SQLite and PostgreSQL; logs the median on/off ratio
	$(GO) test -v -run='^$$' -bench=AuditOverhead -benchtime=$${BENCHTIME:-3s} ./services/govmatch/ | grep -v '^=== RUN'

.PHONY: bench-import
bench-import: ## import the 1,073 vendors of the awards-en set through the REST gateway, SQLite and PostgreSQL
	$(GO) test -run='^$$' -bench=ImportAwards -benchtime=$${BENCHTIME:-3x} ./services/govmatch/

.PHONY: bench-relevance
bench-relevance: ## MRR, Recall@10, nDCG@10 of govmatch next to PostgreSQL full-text search and BM25 (Bleve) on ../shared/data/eval
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}" $(GO) run ./services/matching/cmd/relevance

.PHONY: bench-events
bench-events: ## event latency commit→consumer over Redis Streams; outbox drain after a 30 s Redis outage (GOVMATCH_OUTAGE)
	$(GO) test -run='^$$' -bench=. -benchtime=$${BENCHTIME:-20000x} ./pkg/outbox/
	$(GO) test -run='^$$' -bench=DrainAfterRedisOutage -benchtime=1x ./services/govmatch/

.PHONY: bench-freshness
bench-freshness: ## time from an acknowledged vendor edit to matches that reflect it (in-process and Redis)
	$(GO) test -run='^$$' -bench=Freshness -benchtime=$${BENCHTIME:-200x} ./services/govmatch/

.PHONY: bench-match
bench-match: ## 100,000 generated vendors: index build, memory per vendor, uncached p50/p99; cached REST vs /healthz (32 clients); PostgreSQL FTS
	$(GO) run ./services/matching/cmd/benchmatch

.PHONY: tools
tools: $(BUF) $(TOOLS)/bin/protoc-gen-go $(TOOLS)/bin/protoc-gen-go-grpc $(TOOLS)/bin/protoc-gen-grpc-gateway \
       $(TOOLS)/bin/protoc-gen-openapiv2 $(TOOLS)/bin/staticcheck $(addprefix $(TOOLS)/googleapis/,$(GOOGLEAPIS)) ## install the code generators and linters into .tools

$(BUF):
	npm install --no-save --no-audit --no-fund --prefix $(TOOLS) @bufbuild/buf@$(BUF_VERSION) google-proto-files@$(GOOGLE_PROTO_FILES_VERSION)
$(TOOLS)/googleapis/%.proto: | $(BUF)
	@mkdir -p $(dir $@)
	cp $(TOOLS)/node_modules/google-proto-files/$*.proto $@
$(TOOLS)/bin/protoc-gen-go:
	GOBIN=$(TOOLS)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/bin/protoc-gen-go-grpc:
	GOBIN=$(TOOLS)/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(TOOLS)/bin/protoc-gen-grpc-gateway:
	GOBIN=$(TOOLS)/bin $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
$(TOOLS)/bin/protoc-gen-openapiv2:
	GOBIN=$(TOOLS)/bin $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
$(TOOLS)/bin/staticcheck:
	GOBIN=$(TOOLS)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: generate
generate: tools ## regenerate Go, gRPC, gateway and OpenAPI code from proto/
	$(BUF) generate

.PHONY: generate-check
generate-check: generate ## fail if the committed generated code is stale
	@if [ -n "$$(git status --porcelain -- proto)" ]; then \
	  echo "generated code in proto/ is stale; run 'make generate' and commit:"; git status --porcelain -- proto; exit 1; fi

.PHONY: lint
lint: tools ## buf lint and breaking check, gofmt, go vet, staticcheck
	$(BUF) lint
	@if git rev-parse --verify -q $(BREAKING_AGAINST) >/dev/null && \
	    git ls-tree -r --name-only $(BREAKING_AGAINST) -- proto | grep -q '\.proto$$'; then \
	  tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	  git archive $(BREAKING_AGAINST) buf.yaml proto | tar -x -C $$tmp; \
	  mkdir -p $$tmp/.tools && cp -r $(TOOLS)/googleapis $$tmp/.tools/; \
	  $(BUF) build $$tmp -o $$tmp/against.binpb; $(BUF) build -o $$tmp/current.binpb; \
	  echo "buf breaking against $(BREAKING_AGAINST)"; \
	  $(BUF) breaking $$tmp/current.binpb --against $$tmp/against.binpb --config '{"version":"v2","breaking":{"use":["FILE"]}}'; \
	else echo "buf breaking: no protos on $(BREAKING_AGAINST) yet, skipped"; fi
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(addprefix ./,$(addsuffix /...,$(MODULES)))
	staticcheck $(addprefix ./,$(addsuffix /...,$(MODULES)))

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

.PHONY: clean
clean: ## remove build output and local run data
	rm -rf bin data
