/**
 * The mesh folder: mesh/POLICY.md tells the truth about the operator's allowed calls, and mesh/certs.sh makes a
 * trust anchor and issuer of the kind Linkerd's identity service requires.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type GaiaPlatform, SERVICE_NAMES } from "../../operator/src/api/types.ts";
import { inbounds } from "../../operator/src/specs/calls.ts";
import { REPO_ROOT } from "../controlplane/harness.ts";

const exec = promisify(execFile);

/** The "who may call whom" table of POLICY.md: "workload port" → sorted callers ("*" for anyone). */
function policyTable(markdown: string): Map<string, string[]> {
  const rows = markdown
    .split("\n")
    .filter((line) => /^\| [a-z]+, `[a-z]+`/.test(line))
    .map((line) => line.split("|").map((cell) => cell.trim()));
  const table = new Map<string, string[]>();
  for (const [, server = "", callers = ""] of rows) {
    const [, workload, port] = server.match(/^([a-z]+), `([a-z]+)`/) ?? [];
    const names =
      callers === "anyone"
        ? ["*"]
        : callers
            .split(",")
            .map((name) => name.trim())
            .flatMap((name) => (name === "every service" ? [...SERVICE_NAMES] : [name]));
    table.set(`${workload} ${port}`, [...new Set(names)].sort());
  }
  return table;
}

describe("mesh", () => {
  it("POLICY.md lists exactly the calls the operator's strict policy allows", async () => {
    const markdown = await readFile(path.join(REPO_ROOT, "mesh", "POLICY.md"), "utf8");
    // Every managed datastore and a NATS cluster: the platform with the most Servers.
    const platform = {
      metadata: { name: "gaia", namespace: "games" },
      spec: {
        postgres: { managed: {} },
        redis: { managed: {} },
        nats: { managed: { replicas: 3 } },
        mesh: { linkerd: { enabled: true, policy: "strict" } },
      },
    } as unknown as GaiaPlatform;
    const expected = new Map(
      inbounds(platform).map((inbound) => [
        `${inbound.workload} ${inbound.port}`,
        inbound.clients.length === 0 ? ["*"] : [...inbound.clients].sort(),
      ]),
    );
    assert.deepEqual(policyTable(markdown), expected);
  });

  it("certs.sh makes an ECDSA P-256 trust anchor and an issuer it signed, both CAs for certificate signing", async function () {
    this.timeout(30_000);
    const dir = await mkdtemp(path.join(tmpdir(), "gaia-mesh-certs-"));
    try {
      const script = path.join(REPO_ROOT, "mesh", "certs.sh");
      await exec("bash", [script, dir]);
      for (const name of ["ca", "issuer"]) {
        const text = (
          await exec("openssl", ["x509", "-in", path.join(dir, `${name}.crt`), "-noout", "-text"])
        ).stdout;
        assert.match(text, /Public Key Algorithm: id-ecPublicKey/, name);
        assert.match(text, /NIST CURVE: P-256/, name);
        assert.match(text, /Basic Constraints: critical\s+CA:TRUE/, name);
        assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/, name);
        assert.equal((await stat(path.join(dir, `${name}.key`))).mode & 0o077, 0, `${name}.key is private`);
      }
      const verified = await exec("openssl", [
        "verify",
        "-CAfile",
        path.join(dir, "ca.crt"),
        path.join(dir, "issuer.crt"),
      ]);
      assert.match(verified.stdout, /issuer\.crt: OK/);
      const issuer = (await exec("openssl", ["x509", "-in", path.join(dir, "issuer.crt"), "-noout", "-text"]))
        .stdout;
      assert.match(issuer, /CA:TRUE, pathlen:0/);

      // A second run keeps the certificates (the mesh trusts this anchor).
      const before = await readFile(path.join(dir, "ca.crt"), "utf8");
      await exec("bash", [script, dir]);
      assert.equal(await readFile(path.join(dir, "ca.crt"), "utf8"), before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
