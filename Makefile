# AgentPulse: `make run` starts the collector on the embedded store,
# `make test` runs every test. Both fetch what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO        ?= go
PYTHON    ?= python3
OCB_VERSION := v0.165.0
BIN       := bin/agentpulse
VENV      := .venv
CHDB      = export CHDB_LIB_PATH="$$(scripts/chdb-lib.sh)";
# A count of inputs, not a duration: go1.26's fuzzing coordinator can fail a
# duration-bounded run with "context deadline exceeded" when the time runs out
# during an input (go.dev/issue/75804). 60000 inputs take 2 to 9 s here.
FUZZTIME  ?= 60000x

# What the binary is built from (data/ holds ClickHouse's own .sql files).
GO_SOURCES := $(shell find . \( -path ./data -o -path ./.venv -o -path ./.git -o -path ./sdk -o -path ./bin \) -prune \
	-o \( -name '*.go' -o -name '*.sql' -o -name 'prices.json' -o -name 'go.mod' -o -name 'go.sum' \) -print 2>/dev/null)

.PHONY: run build test test-go test-e2e fuzz test-python lint generate chdb python clean

## run: build the collector and start it with config/quickstart.yaml
run: build
	@$(CHDB) exec $(BIN) --config config/quickstart.yaml

## build: the collector binary at bin/agentpulse
build: $(BIN)

$(BIN): $(GO_SOURCES)
	cd otelcol && $(GO) build -trimpath -o ../$(BIN) .

## chdb: fetch libchdb.so (the embedded ClickHouse engine) when missing
chdb:
	@scripts/chdb-lib.sh

## test: lint, Go unit and storage tests, end-to-end tests, a short fuzz run and the SDK tests
test: lint build test-go fuzz test-python

test-go: chdb
	@$(CHDB) AGENTPULSE_COLLECTOR_BIN="$(CURDIR)/$(BIN)" $(GO) test -count=1 ./...

## fuzz: a short run of each decoder's fuzz target (FUZZTIME each)
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeBatch$$' -fuzztime=$(FUZZTIME) ./receiver/agentpulsereceiver
	$(GO) test -run='^$$' -fuzz='^FuzzMapTraces$$' -fuzztime=$(FUZZTIME) ./internal/genai

## python: the SDK's virtual environment
python: $(VENV)/.installed

$(VENV)/.installed: sdk/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e 'sdk/python[all,test]'
	touch $@

test-python: python build chdb
	$(VENV)/bin/ruff check sdk/python
	@$(CHDB) AGENTPULSE_COLLECTOR_BIN="$(CURDIR)/$(BIN)" $(VENV)/bin/python -m pytest -q sdk/python/tests

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^otelcol/') $$(git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

## generate: regenerate the distribution in otelcol/ from builder-config.yaml
generate:
	$(GO) run go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION) --config builder-config.yaml --skip-compilation

clean:
	rm -rf bin

.PHONY: bench bench-smoke

## bench: the benchmark suite against bin/agentpulse (about 25 minutes); rewrites BENCHMARKS.md
bench: build chdb
	bench/run.sh

## bench-smoke: the benchmark suite at toy sizes (a minute or two), into bin/BENCHMARKS.smoke.md
bench-smoke: build chdb
	bench/run.sh smoke
