import type { Bus, Unsubscribe } from "@gaia/kit";

/** NATS subject on which a user's game world changes arrive (DESIGN §6). */
export const worldSubject = (userId: string) => `world.updates.user.${userId}`;

/** A subject token may not contain separators or wildcards, or a user could listen to others' updates. */
const SAFE_TOKEN = /^[\w-]+$/;

/**
 * Deliver a user's world updates while one of their streams is open. The caller must call the answer when the
 * stream ends, however it ends; without a bus server the subscription simply never delivers.
 */
export function followWorld(bus: Bus, userId: string, deliver: (payload: unknown) => void): Unsubscribe {
  if (!SAFE_TOKEN.test(userId)) return () => {};
  return bus.subscribe(worldSubject(userId), (payload) => deliver(payload));
}
