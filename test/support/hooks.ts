import { stopAllServers } from "./servers.ts";

/** Root hooks: whatever servers the suites started are stopped once, after the last test. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopAllServers();
  },
};
