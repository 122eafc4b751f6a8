import type { GaiaPlatform, GaiaPlatformSpec, GaiaPlatformStatus } from "../../src/api/types.ts";
import { applyDefaults, platformSchema } from "./crd.ts";

/** A GaiaPlatform as the operator receives it: the given spec with the CRD's defaults applied. */
export function makePlatform(
  spec: Record<string, unknown> = {},
  options: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    status?: GaiaPlatformStatus;
  } = {},
): GaiaPlatform {
  const raw = {
    image: { repository: "ghcr.io/example/gaia", tag: "0.1.0" },
    ...structuredClone(spec),
  };
  const defaulted = applyDefaults(raw, platformSchema().properties.spec) as GaiaPlatformSpec;
  return {
    apiVersion: "gaia.dev/v1alpha1",
    kind: "GaiaPlatform",
    metadata: {
      name: options.name ?? "gaia",
      namespace: options.namespace ?? "games",
      uid: options.uid ?? "0b9f3a52-6c1e-4a7e-9a51-2f0d3c2e7d11",
      generation: options.generation ?? 1,
    },
    spec: defaulted,
    ...(options.status ? { status: options.status } : {}),
  };
}

/** Objects of a kind from a list of manifests, by name. */
export function byName<T extends { kind?: string; metadata?: { name?: string } }>(
  objects: readonly T[],
  kind: string,
) {
  return new Map(objects.filter((o) => o.kind === kind).map((o) => [o.metadata?.name ?? "", o]));
}
