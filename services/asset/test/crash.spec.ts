import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cli, gaia } from "../../../test/support/cli.ts";
import {
  startTestAuth,
  startTestGateway,
  type TestAuth,
  type TestGateway,
} from "../../../test/support/platform.ts";
import { asService, freePort, sharedPostgres, startNats, startRedis } from "../../../test/support/servers.ts";
import { issueKeyForEmail } from "../../auth/src/bootstrap.ts";
import { FAKE_MESHY_KEY, type FakeMeshy, startFakeMeshy } from "./support/fake-meshy.ts";

/**
 * `gaia serve asset` as its own process, killed with SIGKILL while Meshy works on a 3D model: the restarted
 * process takes the job over when the dead one's claim lapses, polls the task Meshy already has, and finishes.
 * Meshy saw exactly one preview and one refine: nothing paid twice.
 */

const INTERNAL_TOKEN = "asset-crash-internal-token-0123456789abcdef";

describe("an asset job survives kill -9 of the service mid-task", function () {
  this.timeout(120_000);
  let meshy: FakeMeshy;
  let auth: TestAuth;
  let gateway: TestGateway;
  let asset: Cli | undefined;
  let env: Record<string, string>;
  const stops: (() => Promise<unknown>)[] = [];

  before(async () => {
    const [databaseUrl, nats, redis, port] = await Promise.all([
      sharedPostgres().then((pg) => pg.createDatabase()),
      startNats(),
      startRedis(),
      freePort(),
    ]);
    stops.push(
      () => nats.stop(),
      () => redis.stop(),
    );
    meshy = await startFakeMeshy();
    meshy.pollsToFinish = 40;
    auth = await startTestAuth({
      databaseUrl,
      redisUrl: redis.urlFor("auth"),
      natsUrl: nats.urlFor("auth"),
      internalToken: INTERNAL_TOKEN,
    });
    env = {
      GAIA_DATA_DIR: await mkdtemp(join(tmpdir(), "gaia-asset-crash-")),
      DATABASE_URL: asService(databaseUrl, "asset"),
      REDIS_URL: redis.urlFor("asset"),
      NATS_URL: nats.urlFor("asset"),
      GAIA_AUTH_URL: auth.url,
      GAIA_ASSET_PORT: String(port),
      MESHY_API_KEY: FAKE_MESHY_KEY,
      MESHY_BASE_URL: meshy.url,
      GAIA_ASSET_POLL_MS: "50",
      GAIA_ASSET_LEASE_S: "2",
    };
    gateway = await startTestGateway({
      internalToken: INTERNAL_TOKEN,
      redisUrl: redis.urlFor("gateway"),
      natsUrl: nats.urlFor("gateway"),
      urls: { auth: auth.url, asset: `http://127.0.0.1:${port}` },
    });
  });
  after(async () => {
    asset?.child.kill("SIGKILL");
    await gateway?.close(200);
    await auth?.close(200);
    await meshy?.close();
    for (const stop of stops) await stop().catch(() => {});
  });

  const serve = async () => {
    asset = gaia(["serve", "asset"], env);
    for (let i = 0; i < 300; i++) {
      if (
        await fetch(`http://127.0.0.1:${env.GAIA_ASSET_PORT}/ready`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      if (asset.child.exitCode !== null) throw new Error(`gaia serve asset exited:\n${asset.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`gaia serve asset did not become ready:\n${asset.output()}`);
  };

  for (const stage of ["preview", "refine"] as const)
    it(`completes after a kill during the ${stage}, and the provider saw one submission of each`, async () => {
      meshy.submitted.preview = 0;
      meshy.submitted.refine = 0;
      if (!asset || asset.child.exitCode !== null) await serve();
      const user = await issueKeyForEmail(
        auth.runtime.db.prisma,
        `crash-${Date.now()}@example.com`,
        "user",
        "crash",
      );
      const call = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${gateway.url}${path}`, {
          method,
          headers: { "x-api-key": user.key, ...(body ? { "content-type": "application/json" } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        // biome-ignore lint/suspicious/noExplicitAny: the test reads the answer field by field.
        return { status: r.status, body: (await r.json()) as Record<string, any> };
      };
      const made = await call("POST", "/api/v1/assets/generate", {
        type: "model3d",
        prompt: "a stone golem",
        format: "glb",
      });
      assert.equal(made.status, 202, JSON.stringify(made.body));
      // Wait until Meshy has the task and has been polled a while, then kill the service without warning.
      for (let i = 0; i < 200 && meshy.submitted.preview === 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(meshy.submitted.preview, 1);
      asset!.child.kill("SIGKILL");
      await asset!.exited;
      const interrupted = await call("GET", `/api/v1/assets/jobs/${made.body.job_id}`);
      assert.equal(interrupted.status, 503, "the service is down: the gateway says so");

      await serve();
      // biome-ignore lint/suspicious/noExplicitAny: the test reads the answer field by field.
      let job: Record<string, any> = {};
      for (let i = 0; i < 600; i++) {
        job = (await call("GET", `/api/v1/assets/jobs/${made.body.job_id}`)).body;
        if (["completed", "failed", "canceled"].includes(job.status)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(job.status, "completed", JSON.stringify(job));
      assert.deepEqual(
        meshy.submitted,
        { preview: 1, refine: 1 },
        "one preview, one refine: nothing submitted twice",
      );
      const file = await fetch(`${gateway.url}${job.asset.download_url}`, {
        headers: { "x-api-key": user.key },
      });
      assert.equal(
        Buffer.from(await file.arrayBuffer())
          .subarray(0, 4)
          .toString(),
        "glTF",
      );
    });
});
