import type { Route } from "./route-table.ts";

/**
 * The route table compiled once into a matcher: literal paths in a map (one lookup), parameterised paths as
 * regular expressions tried in order of specificity, greedy prefixes last and longest first.
 */

export type Match =
  | { kind: "route"; route: Route; params: Record<string, string>; upstreamPath: string }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "none" };

interface Compiled {
  route: Route;
  methods: ReadonlySet<string>;
  regex?: RegExp;
  /** The literal start of a parameterised path: a cheap test before the regular expression. */
  prefix: string;
  names: string[];
  /** Ends in a {name+} prefix. */
  greedy: boolean;
}

const PARAM = /^\{(\w+)(\+?)\}$/;

function compile(route: Route): Compiled {
  const names: string[] = [];
  const methods = new Set<string>(route.methods);
  if (methods.has("GET")) methods.add("HEAD");
  const greedy = route.path.includes("+}");
  if (!route.path.includes("{")) return { route, methods, names, prefix: route.path, greedy };
  const segments = route.path.split("/").slice(1);
  const source = segments
    .map((segment, i) => {
      const param = PARAM.exec(segment);
      if (!param) {
        if (segment.includes("{")) throw new Error(`route ${route.path}: a parameter must fill its segment`);
        return `/${escapeRegex(segment)}`;
      }
      names.push(param[1]!);
      if (param[2] !== "+") return "/([^/]+)";
      if (i !== segments.length - 1)
        throw new Error(`route ${route.path}: a {name+} parameter must come last`);
      return "/(.+)";
    })
    .join("");
  const prefix = route.path.slice(0, route.path.indexOf("{"));
  return { route, methods, names, prefix, greedy, regex: new RegExp(`^${source}$`) };
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Fewer parameters first; among prefixes, the longest literal part first. */
function specificity(a: Compiled, b: Compiled): number {
  if (a.greedy !== b.greedy) return a.greedy ? 1 : -1;
  if (a.names.length !== b.names.length) return a.names.length - b.names.length;
  return b.route.path.length - a.route.path.length;
}

/** Strip one trailing slash ("/api/v0.2/" is "/api/v0.2"), so clients of the first platform keep working. */
export function normalisePath(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** A dot segment ("..", "." or their percent-encoded forms) could reach a path the table never allowed. */
export function hasDotSegment(path: string): boolean {
  // Cheap screen first: a dot segment begins right after a slash, as "." or "%2e".
  if (!path.includes("/.") && !/\/%2e/i.test(path)) return false;
  return path.split("/").some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
}

export interface Router {
  /** `withCredentials` picks rows that only apply when the request carries one. */
  match(method: string, path: string, withCredentials: boolean): Match;
}

export function compileRoutes(routes: readonly Route[]): Router {
  const exact = new Map<string, Compiled[]>();
  const patterns: Compiled[] = [];
  for (const route of routes) {
    const compiled = compile(route);
    if (compiled.regex) patterns.push(compiled);
    else exact.set(route.path, [...(exact.get(route.path) ?? []), compiled]);
  }
  patterns.sort(specificity);

  const fill = (template: string, params: Record<string, string>) =>
    template.replace(/\{(\w+)\+?\}/g, (_, name: string) => params[name] ?? "");

  return {
    match(method, rawPath, withCredentials) {
      const path = normalisePath(rawPath);
      let allow: Set<string> | undefined;
      /** A row of its own names this path (literally or with an {id}, not as a prefix), with other methods. */
      let owned = false;
      const consider = (candidate: Compiled, params: Record<string, string>): Match | undefined => {
        if (candidate.route.whenCredentials && !withCredentials) return undefined;
        if (!candidate.methods.has(method)) {
          owned ||= !candidate.greedy;
          allow ??= new Set();
          for (const m of candidate.methods) allow.add(m);
          return undefined;
        }
        const { route } = candidate;
        return {
          kind: "route",
          route,
          params,
          upstreamPath: route.rewrite ? fill(route.rewrite, params) : rawPath,
        };
      };
      for (const candidate of exact.get(path) ?? []) {
        const found = consider(candidate, {});
        if (found) return found;
      }
      for (const candidate of owned ? [] : patterns) {
        // A path a row of its own names takes that row's methods only: a prefix above it never widens them.
        if (owned && candidate.greedy) break;
        if (!path.startsWith(candidate.prefix)) continue;
        const m = candidate.regex!.exec(path);
        if (!m) continue;
        const params: Record<string, string> = {};
        candidate.names.forEach((name, i) => {
          params[name] = m[i + 1]!;
        });
        const found = consider(candidate, params);
        if (found) return found;
      }
      return allow ? { kind: "method-not-allowed", allow: [...allow].sort() } : { kind: "none" };
    },
  };
}
