#!/usr/bin/env node
// Gaia runs its TypeScript sources directly; tsx compiles them on load.
import { register } from "tsx/esm/api";

register();
await import("./gaia.ts");
