import type { ConversationModel, Db, MessageModel, PersonaModel } from "@gaia/kit/db/client";

/** Database access of the chat service: conversations, messages, personas, usage. Every query is per user. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids come from URLs; one that is not a UUID names nothing (and would make PostgreSQL throw). */
export const isUuid = (value: unknown): value is string => typeof value === "string" && UUID.test(value);

/** The built-in default persona has a fixed id, so seeding it from several replicas at once stays idempotent. */
export const DEFAULT_PERSONA_ID = "00000000-0000-4000-8000-000000000001";
export const DEFAULT_PERSONA = {
  name: "Gaia",
  description: "A helpful, concise assistant for game and XR creators.",
  systemPrompt:
    "You are Gaia, an assistant for people who build games and XR experiences. Answer clearly and concisely. " +
    "When a knowledge base tool is available and the question may concern the user's own worlds, notes or " +
    "documents, search it before answering, and say when you could not find something.",
};

export type Conversation = ConversationModel;
export type Message = MessageModel;
export type Persona = PersonaModel;
export type ConversationSummary = Conversation & { messageCount: number; preview: string | null };

export interface NewMessage {
  role: "user" | "assistant" | "system" | "tool";
  content: string;
  provider?: string | null;
  model?: string | null;
  promptTokens?: number;
  completionTokens?: number;
}

export interface UsageEntry {
  userId: string;
  apiKeyId: string | null;
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

const live = (userId: string) => ({ userId, deletedAt: null });

export class ChatStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  // Conversations

  createConversation(data: { id?: string; userId: string; title?: string; personaId?: string | null }) {
    return this.#db.conversation.create({
      data: { id: data.id, userId: data.userId, title: data.title, personaId: data.personaId ?? null },
    });
  }

  async findConversation(userId: string, id: string): Promise<Conversation | null> {
    if (!isUuid(id)) return null;
    return this.#db.conversation.findFirst({ where: { id, ...live(userId) } });
  }

  async listConversations(
    userId: string,
    page: { limit: number; offset: number },
    query?: string,
  ): Promise<{ items: ConversationSummary[]; total: number }> {
    const where = query
      ? {
          ...live(userId),
          OR: [
            { title: { contains: query, mode: "insensitive" as const } },
            { messages: { some: { content: { contains: query, mode: "insensitive" as const } } } },
          ],
        }
      : live(userId);
    const [rows, total] = await Promise.all([
      this.#db.conversation.findMany({
        where,
        orderBy: { updatedAt: "desc" },
        take: page.limit,
        skip: page.offset,
        include: {
          _count: { select: { messages: true } },
          messages: { orderBy: { createdAt: "desc" }, take: 1, select: { content: true } },
        },
      }),
      this.#db.conversation.count({ where }),
    ]);
    return {
      items: rows.map(({ _count, messages, ...conversation }) => ({
        ...conversation,
        messageCount: _count.messages,
        preview: messages[0]?.content.slice(0, 200) ?? null,
      })),
      total,
    };
  }

  async updateConversation(
    userId: string,
    id: string,
    data: { title?: string; personaId?: string | null },
  ): Promise<Conversation | null> {
    if (!isUuid(id)) return null;
    const { count } = await this.#db.conversation.updateMany({ where: { id, ...live(userId) }, data });
    return count ? this.findConversation(userId, id) : null;
  }

  async deleteConversation(userId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await this.#db.conversation.updateMany({
      where: { id, ...live(userId) },
      data: { deletedAt: new Date() },
    });
    return count > 0;
  }

  async deleteAllConversations(userId: string): Promise<number> {
    const { count } = await this.#db.conversation.updateMany({
      where: live(userId),
      data: { deletedAt: new Date() },
    });
    return count;
  }

  async conversationStats(userId: string) {
    const [conversations, messages, latest] = await Promise.all([
      this.#db.conversation.count({ where: live(userId) }),
      this.#db.message.count({ where: { conversation: live(userId) } }),
      this.#db.conversation.findFirst({
        where: live(userId),
        orderBy: { updatedAt: "desc" },
        select: { updatedAt: true },
      }),
    ]);
    return { conversations, messages, lastActivity: latest?.updatedAt ?? null };
  }

  // Messages

  /** The newest `limit` messages of a conversation, oldest first: only what a prompt needs. */
  async recentMessages(conversationId: string, limit: number): Promise<Pick<Message, "role" | "content">[]> {
    if (limit === 0 || !isUuid(conversationId)) return [];
    const rows = await this.#db.message.findMany({
      where: { conversationId },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
      select: { role: true, content: true },
    });
    return rows.reverse();
  }

  listMessages(conversationId: string, page: { limit: number; offset: number }): Promise<Message[]> {
    return this.#db.message.findMany({
      where: { conversationId },
      orderBy: [{ createdAt: "asc" }],
      take: page.limit,
      skip: page.offset,
    });
  }

  /**
   * Append messages in order (each a millisecond apart, so their order survives the timestamp) and mark the
   * conversation as active.
   */
  async appendMessages(conversationId: string, messages: NewMessage[]): Promise<Message[]> {
    const base = Date.now();
    const [, ...created] = await this.#db.$transaction([
      this.#db.conversation.update({ where: { id: conversationId }, data: { updatedAt: new Date(base) } }),
      ...messages.map((message, i) =>
        this.#db.message.create({
          data: {
            conversationId,
            role: message.role,
            content: message.content,
            provider: message.provider ?? null,
            model: message.model ?? null,
            promptTokens: message.promptTokens ?? 0,
            completionTokens: message.completionTokens ?? 0,
            createdAt: new Date(base + i),
          },
        }),
      ),
    ]);
    return created as Message[];
  }

  // Personas

  /** The built-in personas and the user's own. */
  listPersonas(userId: string): Promise<Persona[]> {
    return this.#db.persona.findMany({
      where: { OR: [{ userId: null }, { userId }] },
      orderBy: [{ isDefault: "desc" }, { createdAt: "asc" }],
    });
  }

  async findPersona(userId: string, id: string): Promise<Persona | null> {
    if (!isUuid(id)) return null;
    return this.#db.persona.findFirst({ where: { id, OR: [{ userId: null }, { userId }] } });
  }

  createPersona(data: { userId: string | null; name: string; description?: string; systemPrompt: string }) {
    return this.#db.persona.create({ data });
  }

  updatePersona(id: string, data: { name?: string; description?: string; systemPrompt?: string }) {
    return this.#db.persona.update({ where: { id }, data });
  }

  async deletePersona(id: string): Promise<void> {
    await this.#db.persona.delete({ where: { id } });
  }

  /** Seed the built-in default persona unless it is there; an edited one is left as the operator made it. */
  async ensureDefaultPersona(): Promise<Persona> {
    return this.#db.persona.upsert({
      where: { id: DEFAULT_PERSONA_ID },
      create: { id: DEFAULT_PERSONA_ID, userId: null, isDefault: true, ...DEFAULT_PERSONA },
      update: {},
    });
  }

  defaultPersona(): Promise<Persona | null> {
    return this.#db.persona.findFirst({
      where: { userId: null, isDefault: true },
      orderBy: { createdAt: "asc" },
    });
  }

  /** The persona the user chose for new conversations, if it still exists. */
  async selectedPersona(userId: string): Promise<Persona | null> {
    const selection = await this.#db.personaSelection.findUnique({
      where: { userId },
      select: { persona: true },
    });
    return selection?.persona ?? null;
  }

  async selectPersona(userId: string, personaId: string): Promise<void> {
    await this.#db.personaSelection.upsert({
      where: { userId },
      create: { userId, personaId },
      update: { personaId },
    });
  }

  /** The persona of the user's most recently active conversation that has one. */
  async lastUsedPersona(userId: string): Promise<Persona | null> {
    const latest = await this.#db.conversation.findFirst({
      where: { ...live(userId), personaId: { not: null } },
      orderBy: { updatedAt: "desc" },
      select: { persona: true },
    });
    return latest?.persona ?? null;
  }

  // Usage and budgets

  async recordUsage(entry: UsageEntry): Promise<void> {
    await this.#db.usageRecord.create({ data: { ...entry, service: "chat" } });
  }

  async usageByModel(
    scope: { userId: string } | { apiKeyId: string },
    since: Date,
    until: Date,
  ): Promise<(UsageTotals & { provider: string; model: string })[]> {
    const groups = await this.#db.usageRecord.groupBy({
      by: ["provider", "model"],
      where: { ...scope, createdAt: { gte: since, lt: until } },
      _count: { _all: true },
      _sum: { promptTokens: true, completionTokens: true, costUsd: true },
      orderBy: { provider: "asc" },
    });
    return groups.map((g) => ({
      provider: g.provider,
      model: g.model,
      requests: g._count._all,
      promptTokens: g._sum.promptTokens ?? 0,
      completionTokens: g._sum.completionTokens ?? 0,
      costUsd: Number(g._sum.costUsd ?? 0),
    }));
  }

  /** Usage per UTC day. */
  async usageByDay(userId: string, since: Date): Promise<(UsageTotals & { day: string })[]> {
    const rows = await this.#db.$queryRaw<
      {
        day: string;
        requests: bigint;
        prompt: bigint | null;
        completion: bigint | null;
        cost: string | null;
      }[]
    >`SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
             count(*) AS requests, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
             sum(cost_usd)::text AS cost
        FROM usage_records
       WHERE user_id = ${userId}::uuid AND created_at >= ${since}
       GROUP BY 1 ORDER BY 1`;
    return rows.map((r) => ({
      day: r.day,
      requests: Number(r.requests),
      promptTokens: Number(r.prompt ?? 0),
      completionTokens: Number(r.completion ?? 0),
      costUsd: Number(r.cost ?? 0),
    }));
  }

  /** Per-deployment price overrides from provider_pricing. */
  async pricingOverrides(): Promise<Map<string, { inputPer1M: number; outputPer1M: number }>> {
    const rows = await this.#db.providerPricing.findMany();
    return new Map(
      rows.map((r) => [
        `${r.provider}/${r.model}`,
        { inputPer1M: Number(r.inputPer1M), outputPer1M: Number(r.outputPer1M) },
      ]),
    );
  }
}
