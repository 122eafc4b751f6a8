import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  NATS_USERS,
  type NatsUser,
  passwordVariable,
  REDIS_USERS,
  type RedisUser,
} from "@gaia/kit/datastores";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { freePort } from "./support/servers.ts";
import { eventually } from "./support/wait.ts";

/**
 * `gaia grants redis|nats`, as an administrator of an external server uses it: the printed file configures a
 * real redis-server and a real nats-server, whose users then hold exactly the services' grants.
 */

const run = promisify(execFile);
const gaiaGrants = (store: string, env: Record<string, string>) =>
  run(process.execPath, ["--import", "tsx", "bin/gaia.ts", "grants", store], {
    env: { ...process.env, ...env },
  });

const passwordsFor = (
  store: "redis" | "nats",
  users: readonly (RedisUser | NatsUser)[],
): Record<string, string> =>
  Object.fromEntries(users.map((u) => [passwordVariable(store, u), randomBytes(18).toString("base64url")]));

/** One command over a bare TCP connection, as a pod with network access and no credentials would send it. */
function rawReply(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: "127.0.0.1" }, () => socket.write(`${command}\r\n`));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString("utf8"));
    });
    socket.once("error", reject);
  });
}

async function stopped(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exit = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exit;
}

describe("gaia grants: the users of an external Redis and NATS", function () {
  this.timeout(60_000);
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gaia-grants-"));
  });
  after(async () => {
    await Promise.all(children.map(stopped));
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to print a Redis ACL file until every user has a password, naming the variables", async () => {
    const refused = await gaiaGrants("redis", { GAIA_REDIS_PASSWORD_AUTH: "x" }).catch((e) => e);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /set GAIA_REDIS_PASSWORD_GATEWAY, .*GAIA_REDIS_PASSWORD_PROBE/);
    assert.doesNotMatch(refused.stderr, /GAIA_REDIS_PASSWORD_AUTH,/);
  });

  it("prints a Redis ACL file without passwords that a real redis-server enforces", async () => {
    const env = passwordsFor("redis", REDIS_USERS);
    const printed = await gaiaGrants("redis", env);
    for (const password of Object.values(env)) assert.ok(!printed.stdout.includes(password), "no password");
    assert.match(printed.stderr, /aclfile/);
    const aclfile = join(dir, "users.acl");
    await writeFile(aclfile, printed.stdout);

    const port = await freePort();
    const server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--aclfile", aclfile],
      { stdio: "ignore" },
    );
    children.push(server);
    const as = (user: string, password?: string) => {
      const client = new Redis({
        port,
        host: "127.0.0.1",
        username: user,
        password,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on("error", () => {});
      return client;
    };
    const probe = as("probe", env.GAIA_REDIS_PASSWORD_PROBE);
    await eventually(
      () =>
        probe.connect().then(
          () => true,
          () => false,
        ),
      10_000,
    );
    assert.equal(await probe.ping(), "PONG");
    await assert.rejects(probe.get("gaia:authn:x"), /NOPERM/);
    probe.disconnect();

    assert.match(await rawReply(port, "GET gaia:authn:x"), /^-NOAUTH/, "no user, no access");
    assert.match(await rawReply(port, "AUTH auth not-the-password"), /^-WRONGPASS/);

    const auth = as("auth", env.GAIA_REDIS_PASSWORD_AUTH);
    await auth.connect();
    assert.equal(await auth.set("gaia:authn:abc", "sealed"), "OK");
    auth.disconnect();
    const gateway = as("gateway", env.GAIA_REDIS_PASSWORD_GATEWAY);
    await gateway.connect();
    assert.equal(await gateway.get("gaia:authn:abc"), "sealed", "the gateway reads identities");
    await assert.rejects(gateway.set("gaia:authn:abc", "forged"), /NOPERM/, "and never writes one");
    gateway.disconnect();
  });

  it("prints a NATS authorization block that names variables, not passwords, and a real nats-server enforces", async () => {
    // A password that nats-server would read as a number unless its variable's value is quoted, as the CLI says.
    const passwords: Record<string, string> = {
      ...passwordsFor("nats", NATS_USERS),
      GAIA_NATS_PASSWORD_AUTH: "1e5yx-0",
    };
    const env = Object.fromEntries(Object.entries(passwords).map(([k, v]) => [k, `"${v}"`]));
    const printed = await gaiaGrants("nats", {});
    assert.match(printed.stderr, /in double quotes/);
    assert.match(printed.stdout, /password: \$GAIA_NATS_PASSWORD_GAME_SERVER/);
    const config = join(dir, "nats.conf");
    await writeFile(config, printed.stdout);
    assert.equal((await readFile(config, "utf8")).includes('password: "'), false);

    const port = await freePort();
    const server = spawn("nats-server", ["-c", config, "-a", "127.0.0.1", "-p", String(port)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(server);
    let log = "";
    server.stderr!.on("data", (d) => (log += d));
    const servers = `127.0.0.1:${port}`;
    const chat = await eventually(
      () =>
        connect({ servers, user: "chat", pass: passwords.GAIA_NATS_PASSWORD_CHAT }).catch(() => undefined),
      15_000,
    ).catch((error) => {
      throw new Error(`${error.message}; nats-server said:\n${log}`);
    });
    await assert.rejects(connect({ servers, user: "chat", pass: "not the password" }), /Authorization/i);
    await assert.rejects(connect({ servers }), /Authorization/i);

    const seen: string[] = [];
    const sub = chat.subscribe("world.updates.user.*", {
      callback: (_e, m) => {
        seen.push(m.subject);
      },
    });
    await chat.flush();
    const auth = await connect({ servers, user: "auth", pass: passwords.GAIA_NATS_PASSWORD_AUTH });
    await auth.close();
    const gameServer = await connect({
      servers,
      user: "game-server",
      pass: passwords.GAIA_NATS_PASSWORD_GAME_SERVER,
    });
    const gateway = await connect({ servers, user: "gateway", pass: passwords.GAIA_NATS_PASSWORD_GATEWAY });
    gateway.publish("world.updates.user.u1", "forged");
    await gateway.flush().catch(() => undefined);
    gameServer.publish("world.updates.user.u1", "real");
    await gameServer.flush();
    await eventually(() => seen.length > 0);
    assert.deepEqual(seen, ["world.updates.user.u1"], "only the game server's update arrives");
    sub.unsubscribe();
    await Promise.all([chat.close(), gameServer.close(), gateway.close()]);
  });
});
