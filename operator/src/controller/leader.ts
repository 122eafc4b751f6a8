import type { Logger } from "@gaia/kit/log";
import type { KubernetesObject } from "@kubernetes/client-node";
import { isConflict, type KubeClient } from "./client.ts";
import { LEASE } from "./resources.ts";

/**
 * Leader election on a coordination.k8s.io Lease, after client-go's: the leader renews the Lease every retry
 * period; a candidate takes it over when its record has not changed for a whole lease duration by the candidate's
 * own clock (so clock skew between nodes does not matter); a leader that could not renew within the renew deadline
 * steps down; a leader that stops releases the Lease so a successor need not wait. Writes use the Lease's
 * resourceVersion, so two candidates cannot both win.
 */

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** A Lease as JSON: its times are MicroTime strings. */
interface Lease extends KubernetesObject {
  spec?: LeaseRecord;
}

export type LeaseDecision =
  | { action: "create" | "renew" | "takeover"; record: LeaseRecord }
  | { action: "wait"; holder: string };

/** Kubernetes MicroTime: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

/**
 * What a candidate does with the observed record. `observedAtMs`: when this candidate first saw the record in its
 * current form; the holder's lease runs out leaseDurationSeconds after that.
 */
export function decideLease(
  record: LeaseRecord | undefined,
  identity: string,
  nowMs: number,
  observedAtMs: number,
  durationSeconds: number,
): LeaseDecision {
  const now = microTime(nowMs);
  if (!record) {
    return {
      action: "create",
      record: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }
  if (record.holderIdentity === identity) {
    return { action: "renew", record: { ...record, leaseDurationSeconds: durationSeconds, renewTime: now } };
  }
  const heldFor = (record.leaseDurationSeconds ?? durationSeconds) * 1000;
  if (record.holderIdentity && nowMs < observedAtMs + heldFor)
    return { action: "wait", holder: record.holderIdentity };
  return {
    action: "takeover",
    record: {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (record.leaseTransitions ?? 0) + 1,
    },
  };
}

/** The record a stopping leader leaves: no holder, so the next candidate takes over at once. */
export function releasedRecord(record: LeaseRecord, nowMs: number): LeaseRecord {
  return { ...record, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(nowMs) };
}

export interface ElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

export interface LeadershipCallbacks {
  /** Called without waiting: starting up must not delay the next renewal. */
  onStartedLeading(): void;
  /** Awaited before the Lease is released or campaigning resumes: a successor must not overlap with us. */
  onStoppedLeading(): Promise<void>;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenewMs = 0;
  private observed: { key: string; atMs: number } | undefined;
  private lease: Lease | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly config: ElectionConfig,
    private readonly callbacks: LeadershipCallbacks,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader steps down and, unless `release` is false (a crash), hands the Lease back. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    await this.callbacks.onStoppedLeading();
    if (release && this.lease) {
      try {
        await this.client.update(LEASE, {
          ...this.lease,
          spec: releasedRecord(this.lease.spec ?? {}, this.clock()),
        });
      } catch (error) {
        this.log.warn({ err: error }, "could not release the leader lease");
      }
    }
  }

  private async run(): Promise<void> {
    const { retryPeriodSeconds, renewDeadlineSeconds } = this.config;
    while (!this.stopped) {
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        this.log.warn({ err: error }, "leader election round failed");
      }
      if (this.stopped) break;
      const now = this.clock();
      if (held) {
        this.lastRenewMs = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info({ identity: this.config.identity }, "became leader");
          this.callbacks.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenewMs > renewDeadlineSeconds * 1000) {
        this.leading = false;
        this.log.warn("lost leadership: could not renew the lease in time");
        await this.callbacks.onStoppedLeading();
      }
      await new Promise<void>((resolve) => {
        const handle = setTimeout(resolve, retryPeriodSeconds * 1000);
        this.wake = () => {
          clearTimeout(handle);
          resolve();
        };
      });
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.config;
    const current = await this.client.get<Lease>(LEASE, namespace, name);
    const record = current?.spec;
    const now = this.clock();
    const key = JSON.stringify([record?.holderIdentity, record?.renewTime]);
    if (this.observed?.key !== key) this.observed = { key, atMs: now };
    const decision = decideLease(record, identity, now, this.observed.atMs, leaseDurationSeconds);
    if (decision.action === "wait") return false;
    try {
      this.lease =
        decision.action === "create"
          ? await this.client.create<Lease>(LEASE, {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name, namespace },
              spec: decision.record,
            })
          : await this.client.update<Lease>(LEASE, { ...current!, spec: decision.record });
      return true;
    } catch (error) {
      // Another candidate wrote first.
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
