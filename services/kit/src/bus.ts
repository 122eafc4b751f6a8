import { EventEmitter } from "node:events";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { DURABLE_STREAMS, type DurableStream } from "./datastores.ts";
import type { Logger } from "./log.ts";

export type Handler = (payload: unknown, subject: string) => void | Promise<void>;
export type Unsubscribe = () => void;

/**
 * Platform events. Two implementations with the same behaviour: NATS (JetStream for durable subjects) and an
 * in-process bus for `gaia dev`. Neither throws at a caller because the server is away: core messages published
 * then are dropped, durable ones wait in an outbox until the connection returns.
 */
export interface Bus {
  readonly kind: "nats" | "memory";
  publish(subject: string, payload: unknown): Promise<void>;
  /** Fire-and-forget subscription (NATS core); wildcards `*` and `>` as in NATS. */
  subscribe(subject: string, handler: Handler): Unsubscribe;
  /** At-least-once delivery from a durable stream, shared by every process using the same consumer name. */
  consume(stream: DurableStream, consumer: string, handler: Handler): Unsubscribe;
  /** Open subscriptions and consumers, so tests and metrics can see that none leak. */
  subscriptionCount(): number;
  healthy(): boolean;
  close(): Promise<void>;
}

export { DURABLE_STREAMS, type DurableStream } from "./datastores.ts";

/** NATS subject matching: tokens split on dots, `*` matches one token, a final `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split(".");
  const have = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === ">") return have.length > i;
    if (i >= have.length) return false;
    if (token !== "*" && token !== have[i]) return false;
  }
  return want.length === have.length;
}

export function durableStreamFor(subject: string): DurableStream | undefined {
  for (const [name, subjects] of Object.entries(DURABLE_STREAMS) as [DurableStream, readonly string[]][]) {
    if (subjects.some((pattern) => subjectMatches(pattern, subject))) return name;
  }
  return undefined;
}

/**
 * The client takes no credentials from a server URL: `nats://user:password@host:port` becomes the server and
 * user/pass options (percent-decoded, as in any URL).
 */
export function natsServer(url: string): { servers: string; user?: string; pass?: string } {
  const parsed = new URL(url);
  if (!parsed.username) return { servers: url };
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  return { servers: parsed.toString().replace(/\/$/, ""), user, pass };
}

const encode = (payload: unknown) => new TextEncoder().encode(JSON.stringify(payload));
const decode = (data: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
};

export class MemoryBus implements Bus {
  readonly kind = "memory" as const;
  readonly #emitter = new EventEmitter().setMaxListeners(0);
  readonly #subs = new Set<{ pattern: string; handler: Handler; group?: string }>();
  readonly #groupTurn = new Map<string, number>();
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  async publish(subject: string, payload: unknown) {
    // A copy, so a subscriber never shares an object with the publisher (as over the wire).
    const copy = JSON.parse(JSON.stringify(payload ?? null));
    const groups = new Map<string, { handler: Handler }[]>();
    for (const sub of this.#subs) {
      if (!subjectMatches(sub.pattern, subject)) continue;
      if (sub.group) groups.set(sub.group, [...(groups.get(sub.group) ?? []), sub]);
      else this.#deliver(sub.handler, copy, subject);
    }
    // A durable consumer name is a queue group: each message goes to one member.
    for (const [group, members] of groups) {
      const turn = (this.#groupTurn.get(group) ?? 0) % members.length;
      this.#groupTurn.set(group, turn + 1);
      this.#deliver(members[turn]!.handler, copy, subject);
    }
    this.#emitter.emit("published", subject);
  }

  #deliver(handler: Handler, payload: unknown, subject: string) {
    queueMicrotask(async () => {
      try {
        await handler(payload, subject);
      } catch (error) {
        this.#log?.error({ err: error, subject }, "event handler failed");
      }
    });
  }

  subscribe(subject: string, handler: Handler): Unsubscribe {
    const sub = { pattern: subject, handler };
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  consume(stream: DurableStream, consumer: string, handler: Handler): Unsubscribe {
    const unsubs = DURABLE_STREAMS[stream].map((pattern) => {
      const sub = { pattern, handler, group: `${stream}/${consumer}` };
      this.#subs.add(sub);
      return () => this.#subs.delete(sub);
    });
    return () => {
      for (const unsub of unsubs) unsub();
    };
  }

  subscriptionCount() {
    return this.#subs.size;
  }

  healthy() {
    return true;
  }

  async close() {
    this.#subs.clear();
  }
}

type Pending = { subject: string; data: Uint8Array };

export class NatsBus implements Bus {
  readonly kind = "nats" as const;
  readonly #log: Logger;
  readonly #connection: Promise<NatsConnection>;
  #nc: NatsConnection | undefined;
  #connected = false;
  #closed = false;
  #streamsReady: Promise<void> | undefined;
  readonly #outbox: Pending[] = [];
  readonly #active = new Set<{ close(): void }>();
  static readonly OUTBOX_LIMIT = 10_000;

  constructor(url: string, log: Logger, name = "gaia") {
    this.#log = log;
    this.#connection = this.#connect(url, name);
  }

  async #connect(url: string, name: string): Promise<NatsConnection> {
    for (let attempt = 1; ; attempt++) {
      try {
        const nc = await connect({
          ...natsServer(url),
          name,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 2000,
        });
        this.#nc = nc;
        this.#connected = true;
        this.#watch(nc);
        this.#streamsReady = this.#ensureStreams(nc);
        void this.#flushOutbox();
        return nc;
      } catch (error) {
        if (this.#closed) throw error;
        if (attempt === 1)
          this.#log.warn({ err: String(error) }, "nats unavailable; events degraded until it answers");
        await new Promise((r) => setTimeout(r, Math.min(attempt * 500, 5000)));
      }
    }
  }

  async #watch(nc: NatsConnection) {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        this.#connected = false;
        this.#log.warn("nats disconnected; reconnecting");
      } else if (status.type === "reconnect") {
        this.#connected = true;
        this.#log.info("nats reconnected");
        void this.#flushOutbox();
      }
    }
  }

  async #ensureStreams(nc: NatsConnection) {
    const jsm = await jetstreamManager(nc);
    for (const [name, subjects] of Object.entries(DURABLE_STREAMS)) {
      try {
        await jsm.streams.info(name);
      } catch {
        await jsm.streams.add({ name, subjects: [...subjects] });
      }
    }
  }

  async #flushOutbox() {
    while (this.#outbox.length > 0 && this.#connected && this.#nc) {
      const next = this.#outbox[0]!;
      try {
        await this.#streamsReady;
        await jetstream(this.#nc).publish(next.subject, next.data);
        this.#outbox.shift();
      } catch (error) {
        this.#log.warn({ err: String(error) }, "durable publish failed; kept in outbox");
        return;
      }
    }
  }

  async publish(subject: string, payload: unknown) {
    const data = encode(payload);
    if (durableStreamFor(subject)) {
      if (this.#outbox.length >= NatsBus.OUTBOX_LIMIT) {
        this.#log.error({ subject }, "durable outbox full; event dropped");
        return;
      }
      this.#outbox.push({ subject, data });
      await this.#flushOutbox();
      return;
    }
    if (!this.#connected || !this.#nc) return;
    try {
      this.#nc.publish(subject, data);
    } catch (error) {
      this.#log.warn({ err: String(error), subject }, "publish dropped");
    }
  }

  subscribe(subject: string, handler: Handler): Unsubscribe {
    let sub: Subscription | undefined;
    let cancelled = false;
    const entry = {
      close: () => {
        cancelled = true;
        sub?.unsubscribe();
      },
    };
    this.#active.add(entry);
    void this.#connection.then((nc) => {
      if (cancelled) return;
      sub = nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) return;
          Promise.resolve(handler(decode(msg.data), msg.subject)).catch((err) =>
            this.#log.error({ err, subject }, "event handler failed"),
          );
        },
      });
    });
    return () => {
      this.#active.delete(entry);
      entry.close();
    };
  }

  consume(stream: DurableStream, consumer: string, handler: Handler): Unsubscribe {
    let stop: (() => void) | undefined;
    let cancelled = false;
    const entry = {
      close: () => {
        cancelled = true;
        stop?.();
      },
    };
    this.#active.add(entry);
    const run = async () => {
      const nc = await this.#connection;
      await this.#streamsReady;
      const jsm = await jetstreamManager(nc);
      try {
        await jsm.consumers.info(stream, consumer);
      } catch {
        await jsm.consumers.add(stream, {
          durable_name: consumer,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
        });
      }
      if (cancelled) return;
      const messages = await (await jetstream(nc).consumers.get(stream, consumer)).consume();
      stop = () => void messages.close();
      if (cancelled) return stop();
      for await (const msg of messages) {
        try {
          await handler(decode(msg.data), msg.subject);
          msg.ack();
        } catch (error) {
          this.#log.error({ err: error, subject: msg.subject }, "durable handler failed; redelivery later");
          msg.nak(1000);
        }
      }
    };
    run().catch((error) => {
      if (!cancelled) this.#log.error({ err: String(error), stream, consumer }, "durable consumer stopped");
    });
    return () => {
      this.#active.delete(entry);
      entry.close();
    };
  }

  subscriptionCount() {
    return this.#active.size;
  }

  healthy() {
    return this.#connected;
  }

  async close() {
    this.#closed = true;
    for (const entry of this.#active) entry.close();
    this.#active.clear();
    if (this.#nc) await this.#nc.drain().catch(() => this.#nc?.close());
  }
}

export function createBus(url: string | undefined, log: Logger): Bus {
  return url ? new NatsBus(url, log) : new MemoryBus(log);
}
