# The operator outside a cluster. Included by the root Makefile.
#
#   make operator-run      the operator from its sources against $KUBECONFIG (else ~/.kube/config), all namespaces
#   make operator-build    the bundle the image ships (operator/dist/gaia-operator.mjs), run by plain Node

.PHONY: operator-run operator-build

operator-run: $(DEPS) ## run the operator from its sources against $KUBECONFIG (out of cluster; Ctrl-C stops it)
	@crd="$$(command -v kubectl >/dev/null && kubectl get crd gaiaplatforms.gaia.dev 2>&1 || true)"; \
	if [[ "$${crd}" == *NotFound* ]]; then \
		echo "[operator] the GaiaPlatform CRD is not in the cluster $$(kubectl config current-context 2>/dev/null): kubectl apply --server-side -f crds/"; \
		exit 1; \
	fi
	@echo "[operator] reconciling GaiaPlatforms in $${WATCH_NAMESPACE:-every namespace} of $${KUBECONFIG:-~/.kube/config}; /healthz and /metrics on :$${METRICS_PORT:-8080}"
	@echo "[operator] next: kubectl apply -f examples/gaiaplatform.yaml, then kubectl get gaia -w"
	@node --import tsx operator/src/main.ts

operator-build: $(DEPS) ## bundle the operator into operator/dist/gaia-operator.mjs (what the image runs)
	@node operator/build.ts
