import type { AssetProvider, AssetSpec, PriceOf } from "./providers/types.ts";

/**
 * Which providers could make this, cheapest first, and why the others could not: a pure function of the
 * request, the providers' capabilities, prices, the caller's limit and remaining budget. The job tries the
 * candidates in this order; a fallback never leaves the list (so never another kind of output).
 */

export interface Candidate {
  provider: string;
  estimate_usd: number;
  offline: boolean;
}

export interface Plan {
  candidates: Candidate[];
  rejected: { provider: string; reason: string }[];
  explanation: string;
}

/** Why a provider cannot meet a request, or undefined when it can. */
export function unsupported(provider: AssetProvider, spec: AssetSpec): string | undefined {
  const caps = provider.capabilities;
  if (!caps.types.includes(spec.type)) return `does not make ${spec.type}`;
  const formats = caps.formats[spec.type] ?? [];
  if (spec.format && !formats.includes(spec.format))
    return `delivers ${spec.type} as ${formats.join(", ")}, not ${spec.format}`;
  if (spec.size && caps.sizes && !caps.sizes.includes(spec.size))
    return `makes sizes ${caps.sizes.join(", ")}, not ${spec.size}`;
  if (spec.durationS !== undefined && caps.maxDurationS !== undefined && spec.durationS > caps.maxDurationS) {
    return `makes at most ${caps.maxDurationS} s`;
  }
  return undefined;
}

const usd = (n: number) => `$${n.toFixed(3)}`;

export function plan(
  spec: AssetSpec,
  providers: readonly AssetProvider[],
  price: PriceOf,
  limits: {
    maxCostUsd?: number;
    remainingUsd: number | null;
    only?: string;
    placeholder: "auto" | "on" | "off";
  },
): Plan {
  const rejected: Plan["rejected"] = [];
  const able: Candidate[] = [];
  for (const provider of providers) {
    if (limits.only && provider.id !== limits.only) continue;
    const why = unsupported(provider, spec);
    if (why) {
      rejected.push({ provider: provider.id, reason: why });
      continue;
    }
    able.push({
      provider: provider.id,
      estimate_usd: provider.estimateUsd(spec, price),
      offline: provider.offline === true,
    });
  }
  // The offline placeholder stands in only where no real provider can (or when asked for by name).
  const real = able.filter((c) => !c.offline);
  const pool =
    limits.only || limits.placeholder === "on"
      ? able
      : limits.placeholder === "off"
        ? real
        : real.length > 0
          ? real
          : able;
  for (const c of able)
    if (!pool.includes(c)) rejected.push({ provider: c.provider, reason: "offline placeholder, not needed" });
  const affordable: Candidate[] = [];
  for (const c of pool.sort(
    (a, b) => a.estimate_usd - b.estimate_usd || a.provider.localeCompare(b.provider),
  )) {
    if (limits.maxCostUsd !== undefined && c.estimate_usd > limits.maxCostUsd) {
      rejected.push({
        provider: c.provider,
        reason: `costs ${usd(c.estimate_usd)}, over max_cost_usd ${usd(limits.maxCostUsd)}`,
      });
    } else if (limits.remainingUsd !== null && c.estimate_usd > limits.remainingUsd) {
      rejected.push({
        provider: c.provider,
        reason: `costs ${usd(c.estimate_usd)}, over the ${usd(limits.remainingUsd)} left in your budget`,
      });
    } else affordable.push(c);
  }
  const explanation =
    affordable.length > 0
      ? `${affordable[0]!.provider} is the cheapest that can make this ${spec.type} (${usd(affordable[0]!.estimate_usd)})` +
        (affordable.length > 1
          ? `; then ${affordable
              .slice(1)
              .map((c) => `${c.provider} (${usd(c.estimate_usd)})`)
              .join(", ")} if it fails`
          : "") +
        (affordable[0]!.offline ? "; it is the offline placeholder, not a real generator" : "")
      : `no provider can make this ${spec.type}: ${rejected.map((r) => `${r.provider} ${r.reason}`).join("; ") || "none is configured"}`;
  return { candidates: affordable, rejected, explanation };
}
