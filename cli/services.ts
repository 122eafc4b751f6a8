import type { ServiceName, StartService } from "@gaia/kit";

/** The services this build contains, in start order: auth first, since the others verify identities against it. */
export const SERVICES: Partial<Record<ServiceName, () => Promise<StartService>>> = {
  auth: async () => (await import("@gaia/auth/main")).start,
  asset: async () => (await import("@gaia/asset/main")).start,
  chat: async () => (await import("@gaia/chat/main")).start,
  kb: async () => (await import("@gaia/kb/main")).start,
  gateway: async () => (await import("@gaia/gateway/main")).start,
};

export const AVAILABLE = Object.keys(SERVICES) as ServiceName[];
