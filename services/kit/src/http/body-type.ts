import type { IncomingHttpHeaders } from "node:http";
import type { RequestHandler } from "express";
import { HttpError } from "../errors.ts";

/**
 * Request bodies are JSON in UTF-8 (RFC 8259). Anything else would reach a route as no body at all and be
 * refused for its fields, or be decoded in a charset the platform never promised: say so with a 415 instead.
 * A request without a body (no Content-Length, or 0, and no Transfer-Encoding) needs no content type; routes
 * read it as an empty object.
 */

const UTF8 = new Set(["utf-8", "utf8"]);

function isJsonUtf8(contentType: string): boolean {
  const [mediaType = "", ...parameters] = contentType.split(";");
  if (mediaType.trim().toLowerCase() !== "application/json") return false;
  for (const parameter of parameters) {
    const [name = "", value = ""] = parameter.split("=", 2);
    if (name.trim().toLowerCase() !== "charset") continue;
    if (!UTF8.has(value.trim().replace(/^"|"$/g, "").toLowerCase())) return false;
  }
  return true;
}

/** The 415 a request's body earns, or undefined when it has none or it is JSON in UTF-8. */
export function unsupportedBody(headers: IncomingHttpHeaders): HttpError | undefined {
  const length = headers["content-length"];
  const hasBody = headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
  if (!hasBody || isJsonUtf8(headers["content-type"] ?? "")) return undefined;
  return new HttpError(415, "Request body must be application/json in UTF-8", {
    headers: { Accept: "application/json" },
  });
}

export const requireJsonBody: RequestHandler = (req, _res, next) => next(unsupportedBody(req.headers));
