# Gaia — every command a developer or CI needs. Node 24 comes from the `node` devDependency, so
# node_modules/.bin leads PATH in every recipe.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

DEPS := node_modules/.installed
# The operator's integration specs need the control plane: they belong to CONTROLPLANE_SPECS alone.
UNIT_AND_SERVICE_SPECS := 'services/**/test/**/*.spec.ts' 'operator/test/*.spec.ts' 'operator/test/!(integration)/**/*.spec.ts' 'test/*.spec.ts'
CONTROLPLANE_SPECS := 'test/controlplane/**/*.spec.ts' 'operator/test/integration/**/*.spec.ts' 'test/chart/**/*.spec.ts'
IMAGE_SPECS := 'test/images/**/*.spec.ts'
# Schemathesis against the platform's OpenAPI document; installs itself from PyPI into ~/.cache/gaia once.
FUZZ_SPECS := 'test/fuzz/**/*.spec.ts'
SHELL_SCRIPTS := $(wildcard .ci/run images/*.sh scripts/*.sh mesh/*.sh kind/*.sh kind/**/*.sh test/controlplane/*.sh)

.PHONY: help install dev test test-fast lint format build clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(DEPS): package.json package-lock.json services/*/package.json operator/package.json prisma/schema.prisma
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ with npm (apt-get install -y nodejs npm)"; exit 1; }
	@echo "[deps] installing npm packages (npm ci) ..."
	@npm ci --no-audit --no-fund --loglevel=error
	@echo "[deps] generating the Prisma client from prisma/schema.prisma ..."
	@npm run generate --silent >/dev/null
	@touch $@
	@echo "[deps] ready: Node $$(node --version) in node_modules/.bin"

install: $(DEPS) ## install dependencies (Node 24 included) and generate the Prisma client

dev: $(DEPS) ## run the whole platform in one process on embedded defaults
	@node --import tsx bin/gaia.ts dev

test: $(DEPS) ## every test tier that runs on this machine (starts PostgreSQL, Redis, NATS, the control plane, podman images)
	@echo "[test] unit, service, platform, fuzz, control-plane and image tiers (servers start on private loopback ports)"
	@mocha $(UNIT_AND_SERVICE_SPECS) $(FUZZ_SPECS) $(CONTROLPLANE_SPECS) $(IMAGE_SPECS)
	@echo "[test] done. Lint with 'make lint'; benchmarks are under bench/ (see bench/RESULTS.md)."

test-fuzz: $(DEPS) ## Schemathesis against /openapi.json on the real platform (also part of make test)
	@mocha $(FUZZ_SPECS)

test-fast: $(DEPS) ## unit and service tests only (no Kubernetes control plane)
	@mocha $(UNIT_AND_SERVICE_SPECS)

lint: $(DEPS) ## biome (lint and format check) and the TypeScript type-check
	@biome check .
	@tsc -p tsconfig.json
	@if command -v shellcheck >/dev/null; then shellcheck -x $(SHELL_SCRIPTS); \
	 else echo "[lint] shellcheck is not installed (apt-get install -y shellcheck): shell scripts not checked"; fi
	@echo "[lint] clean"

format: $(DEPS) ## rewrite files in the project's format
	@biome check --write .

build: $(DEPS) lint ## type-check and lint everything (sources run through tsx; there is no emit step)
	@echo "[build] ok: sources type-check; images are built with 'make images'"

clean: controlplane-down ## stop the test control plane, remove local state (.gaia) and dependencies
	rm -rf .gaia node_modules

include mk/*.mk
