import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { normalise } from "./normalise.js";
import type { Problem } from "./problems.js";
import { privateKeyState, tooOpen } from "./credentials.js";
import {
  checkRules,
  checkWarnings,
  type FileCheck,
  type FileState,
  type KeyCheck,
  type KeyState,
} from "./rules.js";
import { checkSchema } from "./schema.js";
import { loadBalancerShape } from "./load-balancer.js";
import type { Inventory } from "./types.js";

export interface ParseOptions {
  /** How to check identity and known_hosts files; default: the local file system. */
  fileState?: FileCheck;
  /** How to check identity files (readable, and a private key); default: `fileState` when given, else the local one. */
  keyState?: KeyCheck;
  /** What `~` means; default: the current user's home. */
  homeDir?: string;
}

export type ParseResult =
  { inventory: Inventory; warnings: Problem[] } | { errors: Problem[]; warnings: Problem[] };

/**
 * Parses and validates inventory YAML in three steps (schema, normalisation, cross-field rules) and returns
 * every problem found, each with its field path and, where known, line. Never throws for bad input.
 */
export function parseInventory(text: string, path: string, options: ParseOptions = {}): ParseResult {
  const file = resolve(path);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => ({
      path: "",
      message: `YAML: ${e.message.split("\n")[0]!}`,
      line: lineCounter.linePos(e.pos[0]).line,
    }));
    return { errors, warnings: [] };
  }
  if (doc.contents === null)
    return { errors: [{ path: "", message: "the inventory is empty" }], warnings: [] };

  const schema = checkSchema(doc, lineCounter);
  if (!schema.raw) return { errors: schema.problems, warnings: [] };
  const shape = loadBalancerShape(schema.raw.loadBalancer).map((p) => ({
    ...p,
    line: nearestLine(schema.lines, p.path),
  }));
  if (shape.length) return { errors: shape, warnings: [] };

  const normalised = normalise(schema.raw, {
    file,
    baseDir: dirname(file),
    homeDir: options.homeDir ?? homedir(),
  });
  const withLine = (p: Problem): Problem => ({ ...p, line: nearestLine(schema.lines, p.path) });
  const fileState = options.fileState ?? localFileState;
  const keyState = options.keyState ?? (options.fileState ? fileState : localKeyState);
  const errors = checkRules(normalised, fileState, keyState).map(withLine);
  const warnings = checkWarnings(normalised).map(withLine);
  return errors.length > 0 ? { errors, warnings } : { inventory: normalised.inventory, warnings };
}

/** The line of a field, or of the closest enclosing field written in the file. */
function nearestLine(lines: Map<string, number>, path: string): number | undefined {
  for (let p = path; ;) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    const parent = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    if (parent === p) return undefined;
    p = parent;
  }
}

/** The file check used outside tests: what the inventory's key and known_hosts paths hold on this machine. */
export function localFileState(path: string): FileState {
  try {
    if (!statSync(path).isFile()) return "not-a-file";
    accessSync(path, constants.R_OK);
    return "ok";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "unreadable";
  }
}

/** The identity file check used outside tests: readable, and a private key kubeha can parse. */
export function localKeyState(path: string): KeyState {
  const state = localFileState(path);
  if (state !== "ok") return state;
  const key = privateKeyState(readFileSync(path));
  if (key === "not-a-key") return key;
  const { mode, uid } = statSync(path);
  return tooOpen(mode, uid) ? "too-open" : key;
}
