import { identityOf, notFound, parseInput, requirePermission } from "@gaia/kit";
import { addMessageBody, createConversationBody, updateConversationBody } from "@gaia/kit/contracts/chat";
import type { Express } from "express";
import { z } from "zod";
import type { ChatStore, Conversation, ConversationSummary, Message } from "../store.ts";
import { iso, page } from "./http.ts";

/** v1 shows everything stored; v0.3, the clean format, leaves out provider details. */
type Style = "full" | "clean";

function conversationView(c: Conversation | ConversationSummary, style: Style) {
  const summary = "messageCount" in c ? { message_count: c.messageCount, preview: c.preview } : {};
  if (style === "clean") {
    return {
      conversation_id: c.id,
      title: c.title,
      ...summary,
      created_at: iso(c.createdAt),
      updated_at: iso(c.updatedAt),
    };
  }
  return {
    id: c.id,
    conversation_id: c.id,
    title: c.title,
    persona_id: c.personaId,
    ...summary,
    created_at: iso(c.createdAt),
    updated_at: iso(c.updatedAt),
  };
}

function messageView(m: Message, style: Style) {
  if (style === "clean") return { id: m.id, role: m.role, content: m.content, created_at: iso(m.createdAt) };
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    provider: m.provider,
    model: m.model,
    prompt_tokens: m.promptTokens,
    completion_tokens: m.completionTokens,
    created_at: iso(m.createdAt),
  };
}

export const searchQuery = z.object({ q: z.string().trim().min(1).max(200) });

export function mountConversations(app: Express, store: ChatStore) {
  for (const [base, style] of [
    ["/api/v1/conversations", "full"],
    ["/api/v0.3/conversations", "clean"],
  ] as const) {
    const owned = async (userId: string, id: string) => {
      const conversation = await store.findConversation(userId, id);
      if (!conversation) throw notFound("Conversation not found");
      return conversation;
    };
    const checkPersona = async (userId: string, personaId: string | null | undefined) => {
      if (personaId && !(await store.findPersona(userId, personaId))) throw notFound("Persona not found");
    };
    const search = async (userId: string, query: string, p: { limit: number; offset: number }) => {
      const { items, total } = await store.listConversations(userId, p, query);
      return { conversations: items.map((c) => conversationView(c, style)), total, query };
    };

    app.get(base, async (req, res) => {
      const { userId } = identityOf(res.locals);
      const p = page(req);
      const { items, total } = await store.listConversations(userId, p);
      res.json({ conversations: items.map((c) => conversationView(c, style)), total, ...p });
    });

    app.post(base, requirePermission("chat:create"), async (req, res) => {
      const { userId } = identityOf(res.locals);
      const body = parseInput(createConversationBody, req.body ?? {});
      await checkPersona(userId, body.persona_id);
      const conversation = await store.createConversation({
        userId,
        title: body.title,
        personaId: body.persona_id,
      });
      res.status(201).json(conversationView(conversation, style));
    });

    app.get(`${base}/search`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      res.json(await search(userId, parseInput(searchQuery, req.query).q, page(req)));
    });

    app.get(`${base}/search/:query`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      res.json(await search(userId, parseInput(searchQuery, { q: req.params.query }).q, page(req)));
    });

    app.get(`${base}/stats`, async (_req, res) => {
      const { userId } = identityOf(res.locals);
      const stats = await store.conversationStats(userId);
      res.json({
        conversations: stats.conversations,
        messages: stats.messages,
        last_activity: iso(stats.lastActivity),
      });
    });

    app.get(`${base}/:id`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      const conversation = await owned(userId, req.params.id);
      const messages = await store.listMessages(conversation.id, { limit: 1000, offset: 0 });
      res.json({
        ...conversationView(conversation, style),
        messages: messages.map((m) => messageView(m, style)),
      });
    });

    app.get(`${base}/:id/messages`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      const conversation = await owned(userId, req.params.id);
      const p = page(req);
      const messages = await store.listMessages(conversation.id, p);
      res.json({
        conversation_id: conversation.id,
        messages: messages.map((m) => messageView(m, style)),
        ...p,
      });
    });

    app.post(`${base}/:id/messages`, requirePermission("chat:create"), async (req, res) => {
      const { userId } = identityOf(res.locals);
      const conversation = await owned(userId, String(req.params.id));
      const body = parseInput(addMessageBody, req.body);
      const [created] = await store.appendMessages(conversation.id, [body]);
      res.status(201).json(messageView(created!, style));
    });

    const update = async (req: import("express").Request, res: import("express").Response) => {
      const { userId } = identityOf(res.locals);
      const body = parseInput(updateConversationBody, req.body);
      await checkPersona(userId, body.persona_id);
      const updated = await store.updateConversation(userId, req.params.id as string, {
        ...(body.title !== undefined ? { title: body.title } : {}),
        ...(body.persona_id !== undefined ? { personaId: body.persona_id } : {}),
      });
      if (!updated) throw notFound("Conversation not found");
      res.json(conversationView(updated, style));
    };
    app.put(`${base}/:id`, update);
    app.patch(`${base}/:id`, update);

    app.delete(`${base}/:id`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      if (!(await store.deleteConversation(userId, req.params.id))) throw notFound("Conversation not found");
      res.json({ status: "deleted", conversation_id: req.params.id });
    });
  }
}
