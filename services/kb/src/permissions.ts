import { hasPermission, type Identity, type Role } from "@gaia/kit";
import { isUnder } from "./paths.ts";

/**
 * Who may read and write where: one pure function decides, and every answer that names a path (read, list,
 * navigate, search hits and their counts, contexts, errors) asks it first. A path the caller may not read does
 * not exist for them.
 *
 * Rules are path prefixes for one user or for a role. The longest matching prefix wins; on equal prefixes a
 * user's own rule beats a role's, which beats a built-in default. Admins may do everything everywhere. Beyond the
 * rule, the credential must hold the permission: kb:read to read, kb:write to write (a key may carry fewer
 * permissions than its owner), except in the caller's own folder, where kb:read is enough.
 */

export interface PathRule {
  id?: string;
  userId?: string | null;
  role?: Role | null;
  /** Canonical, without a trailing slash; "" is the whole knowledge base. */
  pathPrefix: string;
  canRead: boolean;
  canWrite: boolean;
}

export interface Access {
  canRead(path: string): boolean;
  canWrite(path: string): boolean;
}

/** A user's private folder. */
export const ownFolder = (userId: string) => `users/${userId}`;

/**
 * The built-in rules, below any stored one of the same prefix: the whole knowledge base (the shared world bible)
 * and `shared/` readable by everyone and writable by developers; `users/` closed, except each user's own folder.
 */
export function defaultRules(identity: Pick<Identity, "userId" | "role">): PathRule[] {
  const developer = identity.role === "developer";
  return [
    { pathPrefix: "", canRead: true, canWrite: developer },
    { pathPrefix: "shared", canRead: true, canWrite: developer },
    { pathPrefix: "users", canRead: false, canWrite: false },
    { pathPrefix: ownFolder(identity.userId), canRead: true, canWrite: identity.role !== "guest" },
  ];
}

const rank = (rule: PathRule) => (rule.userId ? 2 : rule.role ? 1 : 0);

/** The rule that decides for `path`: the longest prefix, then the most specific subject. */
export function decidingRule(rules: readonly PathRule[], path: string): PathRule | undefined {
  let best: PathRule | undefined;
  for (const rule of rules) {
    if (!isUnder(path, rule.pathPrefix)) continue;
    if (
      !best ||
      rule.pathPrefix.length > best.pathPrefix.length ||
      (rule.pathPrefix.length === best.pathPrefix.length && rank(rule) > rank(best))
    ) {
      best = rule;
    }
  }
  return best;
}

/** The rules that concern this caller: theirs, their role's, and the defaults. */
export function rulesFor(
  identity: Pick<Identity, "userId" | "role">,
  stored: readonly PathRule[],
): PathRule[] {
  return [
    ...defaultRules(identity),
    ...stored.filter((r) => r.userId === identity.userId || (r.role && r.role === identity.role)),
  ];
}

export function accessFor(identity: Identity, stored: readonly PathRule[]): Access {
  if (identity.role === "admin" || hasPermission(identity, "admin:all")) {
    return { canRead: () => true, canWrite: () => true };
  }
  const rules = rulesFor(identity, stored);
  const mayRead = hasPermission(identity, "kb:read");
  const mayWrite = hasPermission(identity, "kb:write");
  const own = ownFolder(identity.userId);
  return {
    canRead: (path) => mayRead && (decidingRule(rules, path)?.canRead ?? false),
    canWrite: (path) =>
      (mayWrite || (mayRead && isUnder(path, own))) && (decidingRule(rules, path)?.canWrite ?? false),
  };
}
