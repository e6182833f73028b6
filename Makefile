# Keyledger's developer and CI entry points. CI runs `make test` through .ci/run.
#
#   make build     UI + bin/keyledger        make lint      vet, staticcheck, gofmt, domain imports
#   make run       build, then serve --dev   make test-go   Go tests with the race detector
#   make web       the UI into web/dist      make test-web  UI unit tests
#   make test      everything CI checks      make test-e2e  browser tests against the built binary

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

GO ?= go
MODULE := github.com/keyledger/keyledger
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO_TEST_FLAGS ?= -race -count=1 -timeout 15m
DOMAIN_DIR ?= domain

# has_script NAME succeeds when web/package.json defines the npm script NAME.
has_script = node -e 'process.exit(require("./web/package.json").scripts?.[process.argv[1]] ? 0 : 1)' $(1)

.PHONY: build web web-deps run lint check-domain-imports check-wire-imports check-httpapi-imports check-api-types test-go test-web test-e2e e2e-run test test-stress fuzz bench

## build: the UI first (go:embed takes whatever is in web/dist), then the binary.
build:
	$(MAKE) web
	$(GO) build -o bin/keyledger ./cmd/keyledger

## web: install the UI's locked dependencies and build it into web/dist.
web: web-deps
	@if [ ! -f web/package.json ]; then echo "web: no web/package.json yet, skipping the UI build"; exit 0; fi; \
	echo "cd web && npm run build"; \
	cd web && npm run build

## web-deps: npm ci, skipped when node_modules already matches package-lock.json.
web-deps:
	@if [ ! -f web/package.json ]; then exit 0; fi; \
	stamp=web/node_modules/.package-lock.json; \
	if [ -f "$$stamp" ] && [ "$$stamp" -nt web/package-lock.json ] && [ "$$stamp" -nt web/package.json ]; then \
		echo "web: node_modules is up to date"; \
	else \
		echo "cd web && npm ci --no-audit --no-fund"; \
		cd web && npm ci --no-audit --no-fund; \
	fi

## run: build, then start a development server (embedded NATS, local Postgres).
run: build
	./bin/keyledger serve --dev

## lint: go vet, staticcheck, gofmt, and domain/ importing the standard library only.
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@echo "gofmt -l"; \
	files="$$(find . -type f -name '*.go' -not -path './.git/*' -not -path './web/node_modules/*')"; \
	unformatted="$$(gofmt -l $$files)"; \
	if [ -n "$$unformatted" ]; then echo "these files need gofmt -w:"; echo "$$unformatted"; exit 1; fi
	$(MAKE) check-domain-imports
	$(MAKE) check-wire-imports
	$(MAKE) check-httpapi-imports

## check-domain-imports: DOMAIN_DIR (domain/) may depend on the standard library only.
check-domain-imports:
	@echo "$(DOMAIN_DIR)/ imports the standard library only"; \
	deps="$$($(GO) list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./$(DOMAIN_DIR)/...)"; \
	outside="$$(grep -v -E '^$(MODULE)/$(DOMAIN_DIR)(/|$$)' <<<"$$deps" || true)"; \
	if [ -n "$$outside" ]; then echo "$(DOMAIN_DIR)/ depends on packages outside the standard library:"; echo "$$outside"; exit 1; fi

## check-wire-imports: httpapi/wire is standard library only (same check as domain/), and
## the Go client and the NATS subscriber, which downstream services import, pull in
## neither Fiber nor pgx; the subscriber does not pull in the NATS server either.
check-wire-imports:
	@$(MAKE) check-domain-imports DOMAIN_DIR=httpapi/wire
	@echo "httpapi/client and eventstore/subscriber import neither Fiber nor pgx"; \
	heavy="$$($(GO) list -deps ./httpapi/client ./eventstore/subscriber | grep -E '^github.com/(gofiber|jackc)/' || true)"; \
	if [ -n "$$heavy" ]; then echo "these come in with the client or the subscriber:"; echo "$$heavy"; exit 1; fi
	@echo "eventstore/subscriber does not pull in nats-server"; \
	server="$$($(GO) list -deps ./eventstore/subscriber | grep -E '^github.com/nats-io/nats-server' || true)"; \
	if [ -n "$$server" ]; then echo "these come in with the subscriber:"; echo "$$server"; exit 1; fi

## check-httpapi-imports: httpapi (its non-test files) imports no NATS package and no
## part of eventstore but eventstore/storeerr, which is standard library only. The
## check is on direct imports: NATS still comes in transitively through commands and
## projections, which are built on the log.
check-httpapi-imports:
	@$(MAKE) check-domain-imports DOMAIN_DIR=eventstore/storeerr
	@echo "httpapi imports no NATS package and not eventstore"; \
	direct="$$($(GO) list -f '{{join .Imports "\n"}}' ./httpapi)"; \
	bad="$$(grep -E '^github.com/nats-io/|^$(MODULE)/eventstore(/|$$)' <<<"$$direct" | grep -v -x '$(MODULE)/eventstore/storeerr' || true)"; \
	if [ -n "$$bad" ]; then echo "httpapi imports these directly:"; echo "$$bad"; exit 1; fi

## test-go: every Go package, race detector on. Postgres: see projections/pgtest.
test-go:
	$(GO) test $(GO_TEST_FLAGS) ./...

## test-stress: long tests behind the stress build tag (100,000-event rebuild and replay,
## kill -9 twenty times under writers, PostgreSQL down for 30 s), then the hostile-input
## fuzzer for FUZZTIME.
FUZZTIME ?= 60s
test-stress:
	$(GO) test -tags stress -count=1 -timeout 30m -v -run 'Stress|100k' -skip 'StressHostileText' ./...
	$(MAKE) fuzz

## fuzz: every command driven with random hostile text for FUZZTIME (no 5xx, no stalled
## projector); the parsers' own fuzz targets run with -fuzz as usual.
fuzz:
	$(GO) test -tags stress -count=1 -v -run '^TestStressHostileText$$' ./httpapi/ -args -hostile-for $(FUZZTIME)

## bench: build the binary, then `keyledger bench --runs $(BENCH_RUNS) $(BENCH_ARGS)`: a
## fresh server on loopback, an org of --secrets secrets, timed phases at --clients
## clients, BENCH_RUNS times (3: issue 11's figures are medians of 3 on a noisy machine;
## BENCH_RUNS=1 for one run), then each phase's medians (see BENCHMARKS.md). The version
## is the commit, so that a --json file says what it measured.
BENCH_RUNS ?= 3
BENCH_ARGS ?=
bench:
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/keyledger ./cmd/keyledger
	./bin/keyledger bench --runs $(BENCH_RUNS) $(BENCH_ARGS)

## test-web: the UI's unit tests.
test-web: web-deps
	@if [ ! -f web/package.json ] || ! $(call has_script,test); then echo "test-web: no web test script yet, skipping"; exit 0; fi; \
	echo "cd web && npm run test"; \
	cd web && npm run test

## test-e2e: build the binary with its UI, then run the browser tests against it.
test-e2e:
	@if [ ! -f web/package.json ] || ! $(call has_script,e2e); then echo "test-e2e: no web e2e script yet, skipping"; exit 0; fi; \
	$(MAKE) build; \
	$(MAKE) e2e-run

# e2e-run: the browser tests alone, for `make test`, which has built everything already.
e2e-run:
	@if [ ! -f web/package.json ] || ! $(call has_script,e2e); then echo "test-e2e: no web e2e script yet, skipping"; exit 0; fi; \
	deploy/scripts/ensure-chromium.sh; \
	$(MAKE) web-deps; \
	echo "cd web && npm run e2e"; \
	cd web && CHROMIUM_PATH=/usr/bin/chromium npm run e2e

## test: what CI checks. The UI is built first so that go:embed has it.
test:
	@for t in build lint test-go test-web e2e-run; do echo "--> make $$t ($$(date -u +%T))"; $(MAKE) $$t; done
	@echo "--> make test passed ($$(date -u +%T))"
