import { createHash } from "node:crypto";
import type { generateBody } from "@gaia/kit/contracts/asset";
import type { z } from "zod";
import type { AssetSpec } from "./providers/types.ts";

/** A request as the providers and the cache see it: normalised, so the same ask always hashes the same. */

export type GenerateBody = z.output<typeof generateBody>;

const squash = (text: string) => text.trim().replace(/\s+/g, " ");

export function specOf(body: GenerateBody): AssetSpec {
  return {
    type: body.type,
    prompt: squash(body.prompt),
    ...(body.style ? { style: squash(body.style) } : {}),
    ...(body.negative_prompt ? { negativePrompt: squash(body.negative_prompt) } : {}),
    ...(body.size ? { size: body.size } : {}),
    ...(body.duration_s !== undefined ? { durationS: body.duration_s } : {}),
    ...(body.format ? { format: body.format } : {}),
    quality: body.quality,
  };
}

/** SHA-256 of what makes two requests the same asset (case and spacing of the text do not). */
export function requestHash(spec: AssetSpec): string {
  const key = [
    spec.type,
    spec.prompt.toLowerCase(),
    spec.style?.toLowerCase() ?? "",
    spec.negativePrompt?.toLowerCase() ?? "",
    spec.size ?? "",
    spec.durationS ?? "",
    spec.format ?? "",
    spec.quality,
  ];
  return createHash("sha256").update(JSON.stringify(key)).digest("hex");
}
