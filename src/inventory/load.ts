import { readFile } from "node:fs/promises";
import { InputError } from "../errors.js";
import { parseInventory } from "./parse.js";
import { formatProblem, type Problem } from "./problems.js";
import type { Inventory } from "./types.js";
import { plural } from "../ui/plural.js";

/**
 * Reads and validates the inventory file. Throws an InputError listing every problem, one per line as
 * "file:line: field.path: what is wrong"; warnings go to `onWarning` (default: ignored).
 */
export async function loadInventory(
  path: string,
  options: { onWarning?: (warning: string) => void } = {},
): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`inventory ${path}: cannot read it (${code ?? String(err)})`);
  }
  const result = parseInventory(text, path);
  const show = (p: Problem) => formatProblem(path, p);
  for (const w of result.warnings) options.onWarning?.(show(w));
  if ("errors" in result) {
    const n = result.errors.length;
    throw new InputError(
      `inventory ${path} has ${plural(n, "problem")}:\n${result.errors.map(show).join("\n")}`,
    );
  }
  return result.inventory;
}
