# kind on machines that cannot pull images: a kind node image built from source with podman
# (kind/README.md). Included by the root Makefile.
#   make kind-node-image   build (or reuse the cached) node image; prints its name
#   make kind-cli          build kind itself (sigs.k8s.io/kind) into .gaia/kind/bin
#   make kind-node-clean   remove the node image and its cache
#
# Where no Docker engine answers and podman is installed, this file also points the cluster
# targets at podman and the local node image: KIND_EXPERIMENTAL_PROVIDER=podman,
# CONTAINERS_CONF=kind/containers.conf, KIND_NODE_IMAGE=<the local image>, and 'kind-up'
# builds the node image first. With Docker, kind's defaults (the published kindest/node) apply.

KIND_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../kind)
KIND_BIN_DIR := $(abspath $(KIND_DIR)/../.gaia/kind/bin)
export PATH := $(KIND_BIN_DIR):$(PATH)

KIND_LOCAL_NODE := $(shell if ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; } && \
	command -v podman >/dev/null 2>&1; then echo yes; fi)

.PHONY: kind-node-image kind-cli kind-node-clean

kind-node-image: kind-cli ## build the kind node image from source (podman; cached per version)
	$(KIND_DIR)/build-node-image.sh

kind-cli: ## build kind (sigs.k8s.io/kind) into .gaia/kind/bin, with kubectl and helm beside it
	@$(KIND_DIR)/install-cli.sh "$(KIND_BIN_DIR)"

kind-node-clean: ## remove the local kind node image and its cache
	$(KIND_DIR)/clean.sh

ifeq ($(KIND_LOCAL_NODE),yes)
export KIND_EXPERIMENTAL_PROVIDER ?= podman
export CONTAINERS_CONF ?= $(KIND_DIR)/containers.conf
export KIND_NODE_IMAGE ?= $(shell bash -c 'source "$(KIND_DIR)/lib.sh" && echo "$${KIND_NODE_IMAGE_NAME}"')
kind-up: kind-node-image
endif
