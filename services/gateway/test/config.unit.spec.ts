import assert from "node:assert/strict";
import { ConfigError } from "@gaia/kit";
import { isProxySpec, loadGatewayConfig } from "../src/config.ts";

describe("gateway configuration (unit)", () => {
  it("trusts no proxy unless told, and takes addresses, CIDRs and proxy-addr's range names", () => {
    assert.deepEqual(loadGatewayConfig({}).trustedProxies, []);
    assert.deepEqual(
      loadGatewayConfig({ GAIA_TRUSTED_PROXIES: " 10.0.0.0/8, fd00::/8 ,192.0.2.1,loopback" }).trustedProxies,
      ["10.0.0.0/8", "fd00::/8", "192.0.2.1", "loopback"],
    );
  });

  it("refuses a trusted-proxy list it cannot read, naming the variable", () => {
    for (const bad of ["*", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "ingress.local", "10.0.0.0/8/1"]) {
      assert.equal(isProxySpec(bad), false, bad);
      assert.throws(
        () => loadGatewayConfig({ GAIA_TRUSTED_PROXIES: bad }),
        (e: Error) => e instanceof ConfigError && /^GAIA_TRUSTED_PROXIES:/.test(e.message),
      );
    }
  });
});
