import { HttpError } from "@gaia/kit";
import type { ErrorRequestHandler } from "express";
import { MissingFile, TargetExists } from "../storage/git-store.ts";
import { StorageUnavailable, WriteConflict } from "../storage/types.ts";

/** The storage's refusals as the contract's answers; everything else goes on to the kit's error handler. */
export const storageErrors: ErrorRequestHandler = (error, _req, _res, next) => {
  if (error instanceof WriteConflict) {
    next(
      new HttpError(409, `${error.path} changed since the version you started from, and the edits overlap`, {
        code: "version_conflict",
        extra: {
          path: error.path,
          current_version: error.current?.version ?? null,
          current_content: error.current?.content ?? null,
          your_content: error.yours,
        },
      }),
    );
  } else if (error instanceof MissingFile) next(new HttpError(404, `No file at ${error.path}`));
  else if (error instanceof TargetExists) next(new HttpError(409, `${error.path} already exists`));
  else if (error instanceof StorageUnavailable) next(new HttpError(error.status, error.message));
  else next(error);
};
