import { HttpError, parseInput } from "@gaia/kit";
import { unsupportedBody } from "@gaia/kit/http/body-type";
import type { Request } from "express";
import { z } from "zod";
import type { LocalHandler } from "../route-table.ts";
import type { LocalHandlerFn } from "./dispatch.ts";

/** The few answers the gateway gives itself. */

export const calculatorInput = z.object({ a: z.number().default(0), b: z.number().default(0) });

async function readJson(req: Request, limit: number): Promise<unknown> {
  const unsupported = unsupportedBody(req.headers);
  if (unsupported) throw unsupported;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, "Request body too large");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
}

export function localHandlers(deps: {
  openapi: string;
  health: () => Promise<Record<string, unknown>>;
}): Record<LocalHandler, LocalHandlerFn> {
  return {
    health: async (_req, res) => {
      res.json({ service: "gateway", ...(await deps.health()) });
    },
    openapi: (_req, res) => {
      res.type("application/json").send(deps.openapi);
    },
    root: (_req, res) => {
      res.json({
        message: "Gaia API is running",
        versions: {
          "v0.3": "/api/v0.3 (clean chat interface)",
          "v0.2": "/api/v0.2 (unified streaming API, providers, personas, KB)",
          v1: "/api/v1 (original endpoints; OpenAI-compatible chat completions)",
        },
        openapi: "/openapi.json",
      });
    },
    // A path of the first platform's API this release does not offer: its row's description says why.
    unimplemented: (_req, _res, { route }) => {
      throw new HttpError(501, route.description ?? "Not implemented in this release");
    },
    // The first platform's calculator, kept for its old clients: {a, b} → {result}.
    calculator: async (req, res, { route }) => {
      const { a, b } = parseInput(calculatorInput, await readJson(req, route.bodyLimit));
      res.json({ result: a + b });
    },
  };
}
