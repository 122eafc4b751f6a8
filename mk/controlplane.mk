# Test Kubernetes control plane: kube-apiserver, kube-controller-manager and kube-scheduler on etcd,
# with kwok faking the nodes, built from Go modules (see test/controlplane/README.md).
# Included by the root Makefile.

# Keep the including Makefile's default goal.
_controlplane_saved_default_goal := $(.DEFAULT_GOAL)

CONTROLPLANE_SCRIPTS := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../test/controlplane)
CONTROLPLANE_ROOT := $(abspath $(CONTROLPLANE_SCRIPTS)/../..)
# The root Makefile may list more specs that need the control plane.
CONTROLPLANE_TEST_SPECS := $(or $(CONTROLPLANE_SPECS),'test/controlplane/**/*.spec.ts')

.PHONY: controlplane controlplane-up controlplane-down test-controlplane

controlplane: ## build (or reuse the cached) control-plane binaries: needs Go, takes minutes the first time
	@$(CONTROLPLANE_SCRIPTS)/build.sh

controlplane-up: ## start the test control plane (or reuse the running one); prints the KUBECONFIG to export
	@$(CONTROLPLANE_SCRIPTS)/up.sh

controlplane-down: ## stop the test control plane and remove its state (keeps the binary cache)
	@$(CONTROLPLANE_SCRIPTS)/down.sh

test-controlplane: $(DEPS) ## tests against the control plane (starts it if needed)
	@cd $(CONTROLPLANE_ROOT) && PATH="$(CONTROLPLANE_ROOT)/node_modules/.bin:$$PATH" \
		mocha $(CONTROLPLANE_TEST_SPECS)

.DEFAULT_GOAL := $(_controlplane_saved_default_goal)
