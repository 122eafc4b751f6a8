import type { V1Container, V1Service, V1ServicePort, V1StatefulSet, V1Volume } from "@kubernetes/client-node";
import type { DatastoreName, GaiaPlatform } from "../api/types.ts";
import { type Component, childMeta, labels, selectorLabels } from "./labels.ts";
import { dataVolumeClaim, podSecurityContext, serviceAccountName } from "./workload.ts";

/** The shape every managed datastore shares: a headless Service and a StatefulSet of pods on their own volumes. */

/** A headless Service (no cluster IP) selecting a datastore's pods. */
export function headlessService(
  platform: GaiaPlatform,
  name: DatastoreName,
  component: Component,
  options: {
    part?: string;
    annotations?: Record<string, string>;
    publishNotReadyAddresses?: boolean;
    ports: V1ServicePort[];
  },
): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(platform, options.part ?? name, name, component, options.annotations),
    spec: {
      clusterIP: "None",
      ...(options.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
      selector: selectorLabels(platform, name),
      ports: options.ports,
    },
  };
}

export interface DatastoreWorkload {
  name: DatastoreName;
  component: Component;
  /** The Service that governs the StatefulSet (gives its pods their DNS names). */
  serviceName: string;
  replicas: number;
  podManagementPolicy?: "OrderedReady" | "Parallel";
  podAnnotations: Record<string, string>;
  /** The image's own user. */
  uid: number;
  container: V1Container;
  volumes?: V1Volume[];
  storage: string;
  storageClassName: string | undefined;
}

/** A datastore's StatefulSet: one container, its data on a claim template mounted as "data". */
export function datastoreStatefulSet(platform: GaiaPlatform, workload: DatastoreWorkload): V1StatefulSet {
  const { name, component } = workload;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMeta(platform, name, name, component),
    spec: {
      serviceName: workload.serviceName,
      replicas: workload.replicas,
      ...(workload.podManagementPolicy ? { podManagementPolicy: workload.podManagementPolicy } : {}),
      selector: { matchLabels: selectorLabels(platform, name) },
      // The volume outlives the StatefulSet; the platform's finalizer decides its fate (retainPolicy).
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: { labels: labels(platform, name, component), annotations: workload.podAnnotations },
        spec: {
          serviceAccountName: serviceAccountName(platform, name),
          automountServiceAccountToken: false,
          // Service links would inject e.g. GAIA_GATEWAY_PORT=tcp://..., which clashes with Gaia's own settings.
          enableServiceLinks: false,
          securityContext: podSecurityContext(workload.uid),
          containers: [workload.container],
          ...(workload.volumes ? { volumes: workload.volumes } : {}),
        },
      },
      volumeClaimTemplates: [
        dataVolumeClaim(platform, name, component, workload.storage, workload.storageClassName),
      ],
    },
  };
}
