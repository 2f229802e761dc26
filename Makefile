# vmgate: make demo runs the gateway against this machine's libvirtd; make test runs the tests.
GO       ?= go
BIN      := bin/vmgate
SHARED   ?= $(abspath ../shared)
export VMGATE_MIBDIRS ?= $(SHARED)/mibs
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build deps libvirtd test test-go lint fuzz demo bench clean deb deb-test

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vmgate

deps:
	deploy/testbed/deps

libvirtd: deps
	deploy/testbed/libvirtd-up

test: deps libvirtd build lint test-go fuzz deb-test

# golangci-lint at a pinned version, built by the Go toolchain (cached after the first run).
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

# The gateway's packages and e2e start three-member etcd clusters and real QEMU VMs: they
# run one package at a time, after the others (two etcd clusters fsyncing at once on
# two cores made election and request timeouts the tests' subject).
test-go:
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v -e '/gateway' -e '/e2e$$')
	$(GO) test -race -count=1 -timeout 30m -p 1 ./gateway/... ./e2e/...

# Each fuzz target for a fixed number of executions on top of its checked-in
# corpus (testdata/fuzz). A count, not a duration: a duration -fuzztime races
# Go 1.26's fuzz coordinator at the deadline and fails with a bare "context
# deadline exceeded" and no crasher (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x
fuzz:
	@for t in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed 's/func //'); do \
	  pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -1 | xargs dirname); \
	  echo "fuzz $$pkg $$t"; \
	  $(GO) test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# The Debian package: a stripped, position-independent binary in a tree staged
# for dpkg-deb (deploy/debian/build-deb), written to dist/vmgate_VERSION_ARCH.deb.
DIST := dist
deb:
	rm -f $(DIST)/vmgate_*.deb
	CGO_ENABLED=1 CGO_CFLAGS='-O2 -D_FORTIFY_SOURCE=2' $(GO) build -trimpath -buildmode=pie -ldflags "$(LDFLAGS) -s -w -linkmode=external -extldflags '-Wl,-z,relro,-z,now'" -o $(DIST)/vmgate ./cmd/vmgate
	VERSION='$(VERSION)' deploy/debian/build-deb $(DIST)/vmgate $(DIST)

# Installs the package on this machine with apt-get, checks it, removes and purges it
# (root only; it skips loudly otherwise).
deb-test: deb
	deploy/debian/test-deb $(DIST)/vmgate_*.deb

demo: deps libvirtd build
	deploy/demo

bench: deps libvirtd build
	bench/run

clean:
	rm -rf bin $(DIST)
