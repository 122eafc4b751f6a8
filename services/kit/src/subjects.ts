/**
 * The NATS subjects services share, named once: publishers, subscribers and the NATS permissions that let each
 * user publish or subscribe (datastores.ts) all import them from here.
 */

/** Auth announces credentials it invalidated here, by hash, so gateways drop their local copies at once. */
export const CREDENTIAL_REVOKED_SUBJECT = "gaia.auth.credential.revoked";
/** Auth announces, signed, the keys, sessions and users whose identity tokens must stop working (revocation.ts). */
export const IDENTITY_REVOKED_SUBJECT = "gaia.auth.identity.revoked";
/** Game servers publish a user's world changes here; chat forwards them into that user's streams. */
export const worldSubject = (userId: string) => `world.updates.user.${userId}`;
export const WORLD_UPDATES_SUBJECTS = worldSubject("*");
/** The KB announces each change (the paths and the commit) here, so its other replicas sync and drop cached answers. */
export const KB_CHANGED_SUBJECT = "gaia.kb.changed";
