import type { V1Secret } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childName, ownerReference } from "../specs/labels.ts";
import type { JwtMaterial } from "../specs/material.ts";
import {
  internalTokenSecret,
  internalTokenSecretName,
  jwtSecret,
  jwtSecretName,
  natsGameServerSecret,
  natsGameServerSecretName,
  natsSecret,
  natsSecretName,
  postgresRolesSecret,
  postgresRolesSecretName,
  postgresSecret,
  postgresSecretName,
  redisSecret,
  redisSecretName,
  referencedSecretNames,
} from "../specs/secrets.ts";
import type { ChildCaches } from "./caches.ts";
import { isConflict, type KubeClient } from "./client.ts";
import type { EventRecorder } from "./events.ts";
import { isControlledBy, isLabelledFor } from "./ownership.ts";
import { PVC, SECRET } from "./resources.ts";
import type { Problem } from "./status.ts";

/** The Secrets of a platform: those it generates, and the user's it reads. Their data feeds the config checksum. */

export interface SecretDeps {
  client: KubeClient;
  children: ChildCaches;
  recorder: EventRecorder;
  material: { jwt: () => JwtMaterial; password: () => string; token: () => string };
}

/** Data of Secrets by name; null for one that does not exist. */
export type SecretData = Record<string, Record<string, string> | null>;

const decode = (secret: V1Secret | undefined): Record<string, string> | null =>
  secret ? { ...(secret.data ?? {}) } : null;

/**
 * The generated Secrets: created once, never changed. One left behind by a deleted platform of the same name
 * (retainPolicy Retain released it) is adopted, so the new platform keeps the old database password.
 */
export async function ensureGeneratedSecrets(
  deps: SecretDeps,
  platform: GaiaPlatform,
  problems: Problem[],
): Promise<SecretData> {
  const { client, children, material, recorder } = deps;
  const namespace = platform.metadata.namespace;
  const wanted: [string, () => V1Secret][] = [
    [jwtSecretName(platform), () => jwtSecret(platform, material.jwt())],
    [internalTokenSecretName(platform), () => internalTokenSecret(platform, material.token())],
    [postgresSecretName(platform), () => postgresSecret(platform, material.password())],
    [postgresRolesSecretName(platform), () => postgresRolesSecret(platform, material.password)],
    [redisSecretName(platform), () => redisSecret(platform, material.password)],
    [natsSecretName(platform), () => natsSecret(platform, material.password)],
    [natsGameServerSecretName(platform), () => natsGameServerSecret(platform, material.password())],
  ];
  const data: SecretData = {};
  // A database initialised with the old password would lock the services out of a new one.
  const databaseVolume = children.get(PVC, namespace, `data-${childName(platform, "postgres")}-0`);
  for (const [name, build] of wanted) {
    let secret = children.get<V1Secret>(SECRET, namespace, name);
    if (!secret && name === postgresSecretName(platform) && databaseVolume) {
      problems.push({
        reason: "SecretDeleted",
        message: `Secret ${name} is gone but the database volume holds data set up with its password; restore the Secret`,
      });
      data[name] = null;
      continue;
    }
    if (!secret) {
      try {
        secret = await client.create(SECRET, build());
        await recorder.record(platform, "Normal", "SecretGenerated", "Create", `generated Secret ${name}`);
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Created meanwhile (the cache lags) or by someone else: look at it directly.
        secret = await client.get<V1Secret>(SECRET, namespace, name);
      }
    }
    if (secret && !isLabelledFor(platform, secret)) {
      problems.push({
        reason: "SecretConflict",
        message: `Secret ${name} exists but is not managed by gaia-operator; rename or remove it`,
      });
    } else if (secret && !isControlledBy(platform, secret)) {
      const controlled = (secret.metadata?.ownerReferences ?? []).some((ref) => ref.controller);
      if (controlled) {
        problems.push({
          reason: "SecretConflict",
          message: `Secret ${name} still belongs to a deleted platform`,
        });
      } else {
        secret = await client.patch<V1Secret>(
          SECRET,
          namespace,
          name,
          { metadata: { ownerReferences: [ownerReference(platform)] } },
          "application/merge-patch+json",
        );
        await recorder.record(
          platform,
          "Normal",
          "SecretAdopted",
          "Update",
          `adopted retained Secret ${name}`,
        );
      }
    }
    data[name] = decode(secret);
  }
  return data;
}

/**
 * The user's Secrets the pods read, read directly (the controller watches Secrets by metadata only, which brings
 * the platform here when one changes); a missing one is reported.
 */
export async function readReferencedSecrets(
  client: KubeClient,
  platform: GaiaPlatform,
  problems: Problem[],
): Promise<SecretData> {
  const data: SecretData = {};
  const missing: string[] = [];
  for (const name of referencedSecretNames(platform)) {
    const secret = await client.get<V1Secret>(SECRET, platform.metadata.namespace, name);
    data[name] = decode(secret);
    if (!secret) missing.push(name);
  }
  if (missing.length > 0) {
    problems.push({
      reason: "SecretMissing",
      message: `Secret(s) ${missing.join(", ")} not found in the namespace`,
    });
  }
  return data;
}
