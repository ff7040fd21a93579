# reloadd - the two commands a new user needs are `make run` and `make test`.
# Everything else here is a piece of those two.

BUILD      ?= build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
ARGS       ?=

.PHONY: all deps build run test test-unit test-integration test-e2e test-sanitizers \
        cluster-up cluster-down fuzz image release bench clean soak

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DRL_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Runs reloadd against $$KUBECONFIG, or against a local control plane that
# it starts (and stops on exit) when KUBECONFIG is unset.
run: build
	@scripts/run.sh $(BUILD)/reloadd $(ARGS)

# Everything: unit, integration and e2e tests, plus ASan+UBSan and TSan builds.
test: deps
	@scripts/test.sh all

test-unit: deps
	@scripts/test.sh unit

test-integration: deps
	@scripts/test.sh integration

test-e2e: deps
	@scripts/test.sh e2e

test-sanitizers: deps
	@scripts/test.sh sanitizers

cluster-up:
	@tools/cluster up

cluster-down:
	@tools/cluster down

fuzz: deps
	@tools/fuzz/run.sh $${FUZZ_SECONDS:-600}

# The model-based test (e2e/model/) for SOAK_MINUTES (default 60): against
# $$KUBECONFIG, or a local control plane it starts and stops when unset.
soak: build
	@e2e/model/soak.sh $(BUILD)/reloadd

# The container image (docker, or buildah without a daemon).
image: deps
	@scripts/image.sh $(ARGS)

# A release in one step: version everywhere, commit, tag vV, image (scripts/release.sh).
release: deps
	@scripts/release.sh $(V)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
