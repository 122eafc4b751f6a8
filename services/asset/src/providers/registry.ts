import type { AssetConfig } from "../config.ts";
import { FreesoundProvider } from "./freesound.ts";
import { MeshyProvider } from "./meshy.ts";
import { MidjourneyProvider } from "./midjourney.ts";
import { MubertProvider } from "./mubert.ts";
import { OpenAIImagesProvider } from "./openai-images.ts";
import { placeholderProvider } from "./placeholder.ts";
import { StabilityProvider } from "./stability.ts";
import type { AssetProvider } from "./types.ts";

/** The providers this deployment has keys for, and the offline placeholder unless it is switched off. */
export function buildProviders(config: AssetConfig): AssetProvider[] {
  const { providers: p } = config;
  return [
    ...(p.openai ? [new OpenAIImagesProvider(p.openai, { model: config.openaiModel })] : []),
    ...(p.stability ? [new StabilityProvider(p.stability)] : []),
    ...(p.midjourney ? [new MidjourneyProvider(p.midjourney)] : []),
    ...(p.meshy ? [new MeshyProvider(p.meshy)] : []),
    ...(p.mubert ? [new MubertProvider(p.mubert)] : []),
    ...(p.freesound ? [new FreesoundProvider(p.freesound)] : []),
    ...(config.placeholder === "off" ? [] : [placeholderProvider]),
  ];
}
