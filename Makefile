SHELL := bash
GO ?= go
BIN := $(CURDIR)/bin

# Pinned code generators, installed into ./bin by `make proto-tools`.
# protoc-gen-go must equal google.golang.org/protobuf in go.mod and
# protoc-gen-connect-go must equal connectrpc.com/connect in go.mod: the
# generated code needs a runtime at least as new as its generator.
BUF_VERSION ?= v1.75.0
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_CONNECT_GO_VERSION ?= v1.21.1

HTTP_PORT ?= 4040
BUCKET_DIR ?= ./examples/bucket
# Long enough for the bench bucket's queries (100 ms to 0.5 s) to run tens
# of times, so that one slow run does not move the mean.
BENCHTIME ?= 3s
BENCH_BUCKET ?= $(or $(TMPDIR),/tmp)/cinder-bench
TEST_FLAGS ?=
BENCH ?= .

.PHONY: all build run test test-race test-short bench bench-data example-bucket lint proto proto-tools clean

all: lint build test

## build: compile the querier binary into ./bin
build:
	$(GO) build -o $(BIN)/querier ./cmd/querier

## run: serve the example bucket on the default port, generating it first if missing
run: build $(BUCKET_DIR)
	$(BIN)/querier -server.http-listen-port=$(HTTP_PORT) -storage.filesystem.dir=$(BUCKET_DIR)

# The example data covers the three hours before it was generated.
$(BUCKET_DIR):
	$(GO) run ./cmd/blockgen synth -bucket $(BUCKET_DIR)

## example-bucket: regenerate the example bucket for the last three hours
example-bucket:
	rm -rf $(BUCKET_DIR)
	$(GO) run ./cmd/blockgen synth -bucket $(BUCKET_DIR)

## bench-data: write the large benchmark bucket (reused when present): 4 hourly
## blocks, 8 services, 144 series, CPU and memory, ~41M samples, ~480k stacks
bench-data:
	@if [ -d "$(BENCH_BUCKET)" ]; then echo "$(BENCH_BUCKET) exists; remove it to regenerate"; else \
	$(GO) run ./cmd/blockgen synth -bucket $(BENCH_BUCKET) -services 8 -pods-per-service 3 \
		-profile-types cpu,memory -hours 4 -profiles-per-hour 60 -depth 24 -fanout 6 \
		-distinct-stacks 15000 -samples-per-profile 3600 -seed 1 \
		-end $$(date -u +%Y-%m-%dT%H:00:00Z); fi

## test: every unit, fuzz-seed and integration test
test:
	$(GO) test $(TEST_FLAGS) -count=1 ./...

## test-race: the packages that share state between queries, under the race detector
test-race:
	$(GO) test -race -count=1 ./pkg/querier ./pkg/bucket ./pkg/flamegraph ./pkg/symdb ./pkg/cache

## bench: benchmarks with allocation figures (the bench-data bucket is used when present)
bench:
	CINDER_BENCH_BUCKET=$(BENCH_BUCKET) $(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem ./...

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$' | grep -v 'connect\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## proto-tools: install the pinned code generators into ./bin
proto-tools:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_GO_VERSION)

## proto: regenerate the Go code of proto/ with the pinned tools
proto: proto-tools
	cd proto && $(BIN)/buf lint
	cd proto && PATH=$(BIN):$$PATH $(BIN)/buf generate

clean:
	rm -rf $(BIN)
