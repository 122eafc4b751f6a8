import { randomBytes } from "node:crypto";
import type { Logger } from "@gaia/kit/log";
import { API_VERSION, type GaiaPlatform, KIND } from "../api/types.ts";
import { isNamespaceTerminating, type KubeClient } from "./client.ts";
import { microTime } from "./leader.ts";
import { EVENT } from "./resources.ts";

/**
 * Kubernetes Events (events.k8s.io/v1) about a platform, for `kubectl describe gaia` and `kubectl events`. Only
 * what the operator did or what changed is recorded, never a no-op reconcile. A failure to record is logged and
 * otherwise ignored: events are a courtesy, not state.
 */

export const REPORTING_CONTROLLER = "gaia.dev/gaia-operator";
const MAX_NOTE = 1024;

export type EventType = "Normal" | "Warning";

export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  async record(
    platform: GaiaPlatform,
    type: EventType,
    reason: string,
    action: string,
    note: string,
  ): Promise<void> {
    const { name, namespace, uid, resourceVersion } = platform.metadata;
    const event = {
      apiVersion: EVENT.apiVersion,
      kind: EVENT.kind,
      metadata: { name: `${name}.${randomBytes(8).toString("hex")}`, namespace },
      eventTime: microTime(Date.now()),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      type,
      reason,
      action,
      note: note.length > MAX_NOTE ? `${note.slice(0, MAX_NOTE - 3)}...` : note,
      regarding: { apiVersion: API_VERSION, kind: KIND, name, namespace, uid, resourceVersion },
    };
    try {
      await this.client.create(EVENT, event);
    } catch (error) {
      // A platform finalized while its namespace is deleted cannot leave Events there; that is expected.
      this.log[isNamespaceTerminating(error) ? "debug" : "warn"](
        { err: error, reason },
        "could not record an event",
      );
    }
  }
}
