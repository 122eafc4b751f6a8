import argon2 from "argon2";

/**
 * argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane): costly for an attacker with the
 * table, cheap enough to log in quickly. Parameters live in each hash, so raising them later is safe.
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

let dummy: Promise<string> | undefined;
/** The dummy hash, made once; start-up calls this so the first unknown-email login is not the odd one out. */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword("not a password: equalizes timing for unknown accounts");
  return dummy;
}

/**
 * Check a password against a stored hash — or, when there is none (unknown email, or an account known only
 * through Supabase), against a dummy hash with the same parameters, so the answer takes as long either way and
 * timing does not tell which emails are registered.
 */
export async function verifyPassword(
  storedHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  if (!storedHash) {
    await argon2.verify(await dummyHash(), password);
    return false;
  }
  try {
    return await argon2.verify(storedHash, password);
  } catch {
    return false;
  }
}
