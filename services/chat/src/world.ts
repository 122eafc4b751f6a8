import { type Bus, type Unsubscribe, worldSubject } from "@gaia/kit";

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
