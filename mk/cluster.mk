# Images, Helm chart and a kind cluster for Gaia. Included by the root Makefile.
#   make images          build the platform and operator images (Docker, else podman; images/build.sh)
#   make kind-up         create the kind cluster from kind-config.yaml (or reuse it)
#   make kind-load       load both images into the cluster's nodes
#   make mesh            install Linkerd into the cluster (mesh/install.sh; needs a registry for its images)
#   make deploy          helm install the operator, apply examples/gaiaplatform.yaml, wait until Ready
#   make e2e-kind        health, an API key, a streamed chat reply through kind's port mapping (+ mesh check)
#   make kind-down       delete the cluster
#   make chart-crds      copy crds/ into the chart (the chart's copy must equal it; test/chart checks)
#   make chart-lint      helm lint the chart
#   make test-images     the image tier: build both images, run them (test/images)
#   make test-chart      the chart tier against the test control plane (test/chart)
# The whole path: make kind-up images kind-load deploy e2e-kind
# kind, kubectl and helm come from `make kind-cli` (.gaia/kind/bin); KIND_NODE_IMAGE, KIND_EXPERIMENTAL_PROVIDER
# and CONTAINERS_CONF are set by mk/kind-node.mk where only podman is available.

CLUSTER_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
CLUSTER_SCRIPTS := $(CLUSTER_ROOT)/scripts
CLUSTER_HELM := $(CLUSTER_ROOT)/.gaia/controlplane/bin/helm
CHART_DIR := $(CLUSTER_ROOT)/charts/gaia-operator

.PHONY: images kind-up kind-load mesh deploy e2e-kind kind-down chart-crds chart-lint test-images test-chart

images: $(DEPS) ## build the platform and operator images (Docker or podman)
	$(CLUSTER_ROOT)/images/build.sh all

kind-up: kind-cli ## create the kind cluster (1 control plane + 2 workers; ports 8666 and 8080 on 127.0.0.1)
	$(CLUSTER_SCRIPTS)/kind-up.sh

kind-load: kind-cli ## load the platform and operator images into the kind cluster
	$(CLUSTER_SCRIPTS)/kind-load.sh

mesh: kind-cli ## install Linkerd into the kind cluster (trust anchor and issuer from mesh/certs.sh)
	$(CLUSTER_ROOT)/mesh/install.sh

deploy: kind-cli chart-crds ## helm install the operator, apply examples/gaiaplatform.yaml, wait for Ready
	$(CLUSTER_SCRIPTS)/deploy.sh

e2e-kind: $(DEPS) kind-cli ## end-to-end checks in the kind cluster through the port mapping
	$(CLUSTER_SCRIPTS)/e2e-kind.sh

kind-down: kind-cli ## delete the kind cluster
	$(CLUSTER_SCRIPTS)/kind-down.sh

chart-crds: ## copy crds/ (the one source of the CRD) into charts/gaia-operator/crds/
	@if ! cmp -s $(CLUSTER_ROOT)/crds/gaia.dev_gaiaplatforms.yaml $(CHART_DIR)/crds/gaia.dev_gaiaplatforms.yaml; then \
		cp $(CLUSTER_ROOT)/crds/gaia.dev_gaiaplatforms.yaml $(CHART_DIR)/crds/gaia.dev_gaiaplatforms.yaml; \
		echo "[chart] copied crds/gaia.dev_gaiaplatforms.yaml into $(CHART_DIR)/crds/"; \
	fi

chart-lint: chart-crds ## helm lint the operator chart (helm from the test control plane: make controlplane)
	@test -x $(CLUSTER_HELM) || { echo "helm is missing: run 'make controlplane' (builds it into .gaia/controlplane/bin)"; exit 1; }
	$(CLUSTER_HELM) lint --strict $(CHART_DIR)

test-images: $(DEPS) ## the image tier: build both images and run them (needs podman or Docker)
	@mocha 'test/images/**/*.spec.ts'

test-chart: $(DEPS) chart-crds ## the chart tier against the test control plane
	@mocha 'test/chart/**/*.spec.ts'
