import assert from "node:assert/strict";
import { ingresses } from "../../src/specs/ingress.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/ingress", () => {
  it("routes a host to the gateway's Service, with class and TLS when given", () => {
    const [ingress] = ingresses(
      makePlatform({
        exposure: {
          gateway: { ingress: { host: "api.example", className: "nginx", tlsSecretName: "api-tls" } },
        },
      }),
    );
    assert.equal(ingress!.metadata!.name, "gaia-gateway");
    assert.equal(ingress!.spec!.ingressClassName, "nginx");
    assert.deepEqual(ingress!.spec!.tls, [{ hosts: ["api.example"], secretName: "api-tls" }]);
    assert.deepEqual(ingress!.spec!.rules, [
      {
        host: "api.example",
        http: {
          paths: [
            {
              path: "/",
              pathType: "Prefix",
              backend: { service: { name: "gaia-gateway", port: { number: 8666 } } },
            },
          ],
        },
      },
    ]);
  });

  it("builds none unless asked", () => {
    assert.deepEqual(ingresses(makePlatform()), []);
    assert.deepEqual(
      ingresses(makePlatform({ exposure: { web: { ingress: { host: "play.example" } } } })).map(
        (i) => i.metadata!.name,
      ),
      ["gaia-web"],
    );
  });
});
