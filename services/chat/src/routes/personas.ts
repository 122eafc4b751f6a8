import {
  conflict,
  hasPermission,
  type Identity,
  identityOf,
  notFound,
  parseInput,
  requirePermission,
  unprocessable,
} from "@gaia/kit";
import { createPersonaBody, selectPersonaBody, updatePersonaBody } from "@gaia/kit/contracts/chat";
import type { Express } from "express";
import type { ChatService } from "../chat.ts";
import type { ChatStore, Persona } from "../store.ts";
import { iso } from "./http.ts";

function personaView(p: Persona) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    system_prompt: p.systemPrompt,
    is_default: p.isDefault,
    builtin: p.userId === null,
    created_by: p.userId,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}

const isAdmin = (identity: Identity) => hasPermission(identity, "admin:all");

/** Personas at /api/v1/chat/personas and /api/v0.2/personas, in the first implementation's response shape. */
export function mountPersonas(app: Express, store: ChatStore, chat: ChatService) {
  /** A persona the caller may change: their own, or a built-in one when they are an admin. */
  const editable = async (identity: Identity, id: string) => {
    const persona = await store.findPersona(identity.userId, id);
    if (!persona) throw notFound("Persona not found");
    if (persona.userId === null && !isAdmin(identity)) throw notFound("Persona not found");
    return persona;
  };

  for (const base of ["/api/v1/chat/personas", "/api/v0.2/personas"]) {
    app.get(base, async (_req, res) => {
      const { userId } = identityOf(res.locals);
      const personas = await store.listPersonas(userId);
      res.json({
        success: true,
        personas: personas.map(personaView),
        total: personas.length,
        message: "Personas retrieved",
      });
    });

    // The one new conversations start with: the chosen one, else the last used, else the default.
    app.get(`${base}/current`, async (_req, res) => {
      const { userId } = identityOf(res.locals);
      const persona =
        (await store.selectedPersona(userId)) ??
        (await store.lastUsedPersona(userId)) ??
        (await chat.defaultPersona());
      res.json({ success: true, persona: personaView(persona), message: "Current persona" });
    });

    app.post(`${base}/set`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      const body = parseInput(selectPersonaBody, req.body);
      const persona = await store.findPersona(userId, body.persona_id);
      // The path exists; what is missing is what the body names, so not a 404.
      if (!persona) throw unprocessable("persona_id: no persona with this id is yours or built in");
      await store.selectPersona(userId, persona.id);
      res.json({ success: true, persona: personaView(persona), message: "Persona set" });
    });

    app.post(base, requirePermission("chat:create"), async (req, res) => {
      const identity = identityOf(res.locals);
      const body = parseInput(createPersonaBody, req.body);
      const persona = await store.createPersona({
        userId: body.builtin && isAdmin(identity) ? null : identity.userId,
        name: body.name,
        description: body.description,
        systemPrompt: body.system_prompt,
      });
      res.status(201).json({ success: true, persona: personaView(persona), message: "Persona created" });
    });

    app.get(`${base}/:id`, async (req, res) => {
      const { userId } = identityOf(res.locals);
      const persona = await store.findPersona(userId, req.params.id);
      if (!persona) throw notFound("Persona not found");
      res.json({ success: true, persona: personaView(persona), message: "Persona retrieved" });
    });

    const update = async (req: import("express").Request, res: import("express").Response) => {
      const identity = identityOf(res.locals);
      const body = parseInput(updatePersonaBody, req.body);
      const persona = await editable(identity, req.params.id as string);
      const updated = await store.updatePersona(persona.id, {
        name: body.name,
        description: body.description,
        systemPrompt: body.system_prompt,
      });
      if (updated.isDefault) chat.forgetPrompts();
      res.json({ success: true, persona: personaView(updated), message: "Persona updated" });
    };
    app.put(`${base}/:id`, update);
    app.patch(`${base}/:id`, update);

    app.delete(`${base}/:id`, async (req, res) => {
      const identity = identityOf(res.locals);
      const persona = await editable(identity, req.params.id);
      if (persona.isDefault) throw conflict("The default persona cannot be deleted; edit it instead");
      await store.deletePersona(persona.id);
      res.json({ success: true, message: "Persona deleted" });
    });
  }
}
