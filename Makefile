# kindish: see README.md. Every target that needs Docker runs hack/setup.sh
# first, so each works on a fresh machine.

GO       ?= go
BIN      := $(CURDIR)/bin
OUTPUT   := $(CURDIR)/_output
KINDISH  := $(BIN)/kindish
# make e2e FOCUS=Cluster runs only the specs labelled Cluster.
FOCUS    ?=
E2E_TIMEOUT ?= 55m

export CGO_ENABLED := 0
# Every go command here builds with the flags the images' own builds use
# (kindish-node in the node image, testbox, CoreDNS): the compiled
# packages are then shared, and a fresh machine compiles the dependencies
# once, not once per set of flags (about four minutes each on two cores).
GOFLAGS += -trimpath
export GOFLAGS

.PHONY: all build setup cluster images node-image test unit e2e bench demo lint clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/kindish ./cmd/kindish-node

setup:
	./hack/setup.sh

# A cluster named kindish, with the node image built when missing.
cluster: setup build
	$(KINDISH) create cluster

node-image: setup build
	$(KINDISH) build node-image

# The workload images tests run: busybox, nginx and kindish/testbox.
images: setup build
	$(KINDISH) build images

# Every test: unit tests, then the end-to-end suite on real clusters.
test: unit e2e

# The API server's tests drive the real kubectl; it must be there.
unit:
	$(GO) vet ./...
	KINDISH_REQUIRE_KUBECTL=1 $(GO) test -count=1 ./...

e2e: setup build
	mkdir -p $(OUTPUT)
	KINDISH=$(KINDISH) $(GO) test -v -tags e2e -count=1 -timeout $(E2E_TIMEOUT) ./e2e/ \
		-ginkgo.v -ginkgo.no-color \
		-ginkgo.junit-report=$(OUTPUT)/junit.xml \
		$(if $(FOCUS),-ginkgo.label-filter='$(FOCUS)')

# The source documents' walkthrough on a fresh cluster, commands and outputs.
demo: setup build images
	KINDISH=$(KINDISH) ./hack/demo.sh

# The performance figures. The workload images that the pod and network
# groups run are built by the bench itself, while a cluster it measures idles.
bench: setup build
	mkdir -p $(OUTPUT)
	$(GO) run ./hack/bench -kindish $(KINDISH) -out $(OUTPUT)/bench.json

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/

clean:
	rm -rf $(BIN) $(OUTPUT)
