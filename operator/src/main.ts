import { ConfigError } from "@gaia/kit/errors";
import { createLogger } from "@gaia/kit/log";
import { KubeConfig } from "@kubernetes/client-node";
import { configFromEnv, type OperatorConfig } from "./config.ts";
import { startOperator } from "./operator.ts";

/** Entry point: $KUBECONFIG (or ~/.kube/config) out of cluster, the pod's ServiceAccount in a cluster. */

const log = createLogger("gaia-operator");
let config: OperatorConfig;
try {
  config = configFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // One line naming the variable, and the exit code for a configuration error (sysexits' EX_CONFIG), as gaia has.
  process.stderr.write(`gaia-operator: configuration error: ${error.message}\n`);
  process.exit(78);
}
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
