import { IDENTITY_HEADER, parseInput } from "@gaia/kit";
import type { Request, Response } from "express";
import { z } from "zod";

/**
 * Aborts when the client goes away before the answer is complete, so a non-streamed request stops its upstream
 * call too. (A response's `close` before `finish` is the reliable sign: a request's own `close` fires as soon
 * as its body has been read.)
 */
export function clientSignal(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort(new Error("client went away"));
  });
  return controller.signal;
}

/** The verified caller's own identity token, passed on when chat calls another service for them. */
export const identityToken = (req: Request) => req.get(IDENTITY_HEADER) ?? "";

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export function page(req: Request): { limit: number; offset: number } {
  return parseInput(pageQuery, req.query);
}

export const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);
