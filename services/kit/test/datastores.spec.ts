import assert from "node:assert/strict";
import { Socket } from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { type StoppableServer, startNats, startRedis } from "../../../test/support/servers.ts";
import { until } from "../../../test/support/wait.ts";
import { natsServer } from "../src/bus.ts";
import type { NatsUser, RedisUser } from "../src/datastores.ts";

/**
 * An attacker on the network reaches Redis and NATS but holds no service's password; a service's credentials
 * reach only what that service needs. Both servers run with the users a deployment gets.
 */

const withoutCredentials = (url: string) => url.replace(/\/\/[^@]+@/, "//");
const withPassword = (url: string, password: string) => url.replace(/:[^:@/]+@/, `:${password}@`);

/** The server's first reply line to each inline command, on one fresh connection: what any pod could send. */
function rawRedis(port: number, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk;
      const lines = buffer.split("\r\n").filter(Boolean);
      if (lines.length >= commands.length) {
        socket.destroy();
        resolve(lines);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed after ${JSON.stringify(buffer)}`)));
    socket.connect(port, "127.0.0.1", () => socket.write(commands.map((c) => `${c}\r\n`).join("")));
  });
}

describe("datastore credentials: redis", () => {
  let redis: StoppableServer<RedisUser>;
  const clients: Redis[] = [];
  const client = (url: string) => {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => "accepted",
      (error: Error) => error.message,
    );

  before(async () => {
    redis = await startRedis();
  });
  after(() => {
    for (const c of clients) c.disconnect();
  });

  it("refuses a client without credentials, the default user, and a wrong password", async () => {
    const [get, set, asDefault, guessed, stillAnonymous] = await rawRedis(redis.port, [
      "GET gaia:authn:x",
      "SET gaia:authn:x forged",
      "AUTH default anything",
      "AUTH gateway guessed",
      "GET gaia:authn:x",
    ]);
    assert.match(get!, /^-NOAUTH/);
    assert.match(set!, /^-NOAUTH/);
    assert.match(asDefault!, /^-WRONGPASS/);
    assert.match(guessed!, /^-WRONGPASS/);
    assert.match(stillAnonymous!, /^-NOAUTH/);
  });

  it("lets the gateway read identities and count rate limits, never write an identity", async () => {
    const gateway = client(redis.urlFor("gateway"));
    await gateway.connect();
    assert.equal(await gateway.get("gaia:authn:abc"), null);
    assert.equal(await gateway.incrby("gaia:ratelimit:k", 1), 1);
    assert.match(await refusal(gateway.set("gaia:authn:abc", '{"userId":"admin"}')), /NOPERM/);
    assert.match(await refusal(gateway.del("gaia:authn:abc")), /NOPERM/);
    assert.match(await refusal(gateway.get("gaia:login:ip:1")), /NOPERM/);
    assert.match(await refusal(gateway.flushall()), /NOPERM/);
  });

  it("keeps chat, which caches nothing, out of every key", async () => {
    const chat = client(redis.urlFor("chat"));
    await chat.connect();
    assert.match(await refusal(chat.get("gaia:authn:abc")), /NOPERM/);
    assert.match(await refusal(chat.set("gaia:ratelimit:k", "0")), /NOPERM/);
  });
});

describe("datastore credentials: nats", () => {
  let nats: StoppableServer<NatsUser>;
  const connections: NatsConnection[] = [];
  const open = async (url: string) => {
    const nc = await connect({ ...natsServer(url), reconnect: false, timeout: 2000 });
    connections.push(nc);
    return nc;
  };
  /** What an admin subscriber receives on `subject` while `act` runs, after a flush of both sides. */
  const received = async (subject: string, act: () => Promise<void>) => {
    const admin = await open(nats.url);
    const seen: string[] = [];
    admin.subscribe(subject, {
      callback: (_, msg) => {
        seen.push(msg.subject);
      },
    });
    await admin.flush();
    await act();
    await admin.flush();
    return seen;
  };
  /** Publishes as `user` and answers the permission errors the server sent back. */
  const publishAs = async (user: NatsUser, subject: string) => {
    const nc = await open(nats.urlFor(user));
    const errors: string[] = [];
    void (async () => {
      for await (const status of nc.status()) if (status.type === "error") errors.push(String(status.error));
    })();
    nc.publish(subject, JSON.stringify({ forged: true }));
    await nc.flush();
    return errors;
  };

  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    await Promise.all(connections.map((nc) => nc.close()));
  });

  it("refuses a client without credentials or with a wrong password", async () => {
    await assert.rejects(open(withoutCredentials(nats.url)), /Authorization Violation/i);
    await assert.rejects(open(withPassword(nats.urlFor("chat"), "guessed")), /Authorization Violation/i);
  });

  it("lets only auth publish credential revocations", async () => {
    const subject = "gaia.auth.credential.revoked";
    let errors: string[] = [];
    assert.deepEqual(
      await received(subject, async () => {
        errors = await publishAs("chat", subject);
      }),
      [],
    );
    await until(() => errors.length > 0);
    assert.match(errors[0]!, /Permissions Violation for Publish to "gaia\.auth\.credential\.revoked"/);
    assert.deepEqual(
      await received(subject, async () => {
        await publishAs("auth", subject);
      }),
      [subject],
    );
  });

  it("lets only game servers publish a user's world updates, and only chat hear them", async () => {
    const subject = "world.updates.user.42";
    for (const forger of ["gateway", "chat", "auth", "kb"] as const) {
      assert.deepEqual(await received(subject, () => publishAs(forger, subject).then(() => {})), [], forger);
    }
    assert.deepEqual(await received(subject, () => publishAs("game-server", subject).then(() => {})), [
      subject,
    ]);

    const gameServer = await open(nats.urlFor("game-server"));
    const errors: string[] = [];
    void (async () => {
      for await (const status of gameServer.status())
        if (status.type === "error") errors.push(String(status.error));
    })();
    gameServer.subscribe("world.updates.user.*");
    await gameServer.flush();
    await until(() => errors.length > 0);
    assert.match(errors[0]!, /Permissions Violation for Subscription to "world\.updates\.user\.\*"/);
  });
});
