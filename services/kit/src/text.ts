/**
 * What PostgreSQL can store as text. It refuses NUL outright (22021 in `text`, 22P05 in `jsonb`), and an unpaired
 * UTF-16 surrogate is not Unicode text at all: node-postgres silently writes it as U+FFFD into `text` (what is
 * read back is not what was sent), and `jsonb` refuses it. Both are therefore the client's fault at a boundary.
 */

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Why PostgreSQL cannot take this string as text, or undefined when it can. */
export function unstorable(text: string): string | undefined {
  if (text.includes("\0")) return "contains a NUL character (\\u0000), which cannot be stored";
  // search() ignores the expression's global flag and its lastIndex: no state carries from one call to the next.
  const index = text.search(LONE_SURROGATE);
  if (index < 0) return undefined;
  const unit = `\\u${text.charCodeAt(index).toString(16)}`;
  return `contains an unpaired UTF-16 surrogate (${unit}), which is not valid Unicode text`;
}

/** Problems reported for one request at most: a body can hold a million bad strings, a message should not. */
const MAX_PROBLEMS = 10;
/** Path segments named at most: a field nested a thousand levels deep is named by its last ones. */
const MAX_SEGMENTS = 32;

/** A value still to be checked; its path is only spelled out when it is at fault. */
interface Pending {
  value: unknown;
  key: string | number | undefined;
  parent: Pending | undefined;
}

function pathOf(node: Pending | undefined): string {
  const segments: (string | number)[] = [];
  for (let at = node; at?.key !== undefined; at = at.parent) {
    if (segments.length === MAX_SEGMENTS) {
      segments.push("…");
      break;
    }
    segments.push(at.key);
  }
  return segments.reverse().join(".");
}

/**
 * Every string in a parsed JSON value (object keys too, at any depth) that PostgreSQL cannot store, each named by
 * its path as validation errors name fields: `messages.0.content: contains ...`, `tools.0.parameters: key "x\u0000"
 * contains ...`. Walked without recursion, since a 1 MB body can nest deeper than the call stack.
 */
export function unstorableText(value: unknown, limit = MAX_PROBLEMS): string[] {
  const problems: string[] = [];
  const report = (node: Pending | undefined, what: string) => {
    const path = pathOf(node);
    problems.push(path ? `${path}: ${what}` : what);
  };
  const stack: Pending[] = [{ value, key: undefined, parent: undefined }];
  while (stack.length > 0 && problems.length < limit) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === "string") {
      const problem = unstorable(value);
      if (problem) report(node, problem);
    } else if (Array.isArray(value)) {
      // Pushed last to first, so problems come out in the order the fields were written.
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
    } else if (typeof value === "object" && value !== null) {
      const keys = Object.keys(value);
      for (const key of keys) {
        const problem = unstorable(key);
        if (problem) report(node, `key ${JSON.stringify(key)} ${problem}`);
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        stack.push({ value: (value as Record<string, unknown>)[key], key, parent: node });
      }
    }
  }
  return problems.slice(0, limit);
}

/**
 * Model output is not the client's input, and a reply must be kept whatever it holds: NUL and unpaired surrogates
 * become U+FFFD, the replacement character, in what is stored (the client has already been sent the original).
 */
export function storableText(text: string): string {
  return text.replace(LONE_SURROGATE, "\uFFFD").replaceAll("\0", "\uFFFD");
}
