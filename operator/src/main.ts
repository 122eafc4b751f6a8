import { createLogger } from "@gaia/kit/log";
import { KubeConfig } from "@kubernetes/client-node";
import { configFromEnv } from "./config.ts";
import { startOperator } from "./operator.ts";

/** Entry point: $KUBECONFIG (or ~/.kube/config) out of cluster, the pod's ServiceAccount in a cluster. */

const log = createLogger("gaia-operator");
const config = configFromEnv();
const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();

const operator = await startOperator({
  kubeConfig,
  namespace: config.watchNamespace,
  identity: config.identity,
  leaseNamespace: config.leaseNamespace,
  metricsPort: config.metricsPort,
  resyncSeconds: config.resyncSeconds,
  workers: config.workers,
  logger: log,
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    operator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
