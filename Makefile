# yiwang — `make test` runs every test there is; `make build` the server.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/yiwang/yiwang/app.version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all test deps lint unit system fuzz frontend-test e2e desktop packaging build frontend dist bench clean

all: build

## test: the whole suite — what CI runs (.ci/run) and what README shows.
test: deps lint unit system fuzz frontend-test e2e desktop packaging
	@echo "make test: all suites passed"

deps:
	scripts/deps.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./installer/... ./app/...
	CGO_ENABLED=0 $(GO) build -o /dev/null .

unit:
	$(GO) test -race -short -count=1 -timeout 15m ./...

## system: real processes and real clusters (store SIGKILL tests, ...) and
## the plugin end-to-end tests, no -race.
system:
	$(GO) test -count=1 -timeout 30m -run '^TestSystem' ./...
	# plugin end-to-end tests compile WebAssembly (skipped by unit's -race -short)
	$(GO) test -count=1 -timeout 15m -run '^TestPlugin' ./app/

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

frontend-test:
	cd frontend && npm ci --no-audit --no-fund && npx vitest run
	CHECK_DIST_CI=0 frontend/check-dist.sh

e2e: build
	scripts/e2e-demo.sh ./yiwang

## desktop: build the Wails app (cgo, webkit2_41), run it under Xvfb, check
## the rendered login page; cross-compile the Windows .exe.
desktop:
	scripts/desktop-smoke.sh

packaging:
	scripts/test-deb.sh
	scripts/test-nsis.sh
	scripts/test-upgrade.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o yiwang .

frontend:
	frontend/build.sh

dist:
	scripts/dist.sh $(VERSION)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./store/

clean:
	rm -rf yiwang dist
