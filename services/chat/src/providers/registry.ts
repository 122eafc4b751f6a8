import type { ProviderKind } from "../catalogue.ts";
import type { ChatConfig } from "../config.ts";
import { AnthropicProvider } from "./anthropic.ts";
import { EchoProvider } from "./echo.ts";
import { OpenAIProvider } from "./openai.ts";
import type { ChatProvider } from "./types.ts";

/** One adapter per configured provider; the offline echo is always there, and the default only without keys. */
export function buildProviders(config: ChatConfig): Map<ProviderKind, ChatProvider> {
  const providers = new Map<ProviderKind, ChatProvider>();
  for (const provider of config.providers) {
    providers.set(
      provider.id,
      provider.id === "openai"
        ? new OpenAIProvider(provider, config.requestTimeoutMs)
        : new AnthropicProvider(provider, config.requestTimeoutMs),
    );
  }
  providers.set("offline", new EchoProvider());
  return providers;
}
