// Data flows one way (inventory → discovery → plan → apply → verify): no module of src/ may reach
// itself through its imports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Every cycle of the relative-import graph, as "a.ts → b.ts → a.ts". */
function importCycles(graph: Map<string, string[]>): string[] {
  const cycles: string[] = [];
  const stack: string[] = [];
  const onStack = new Set<string>();
  const done = new Set<string>();
  const visit = (file: string) => {
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (onStack.has(next)) cycles.push([...stack.slice(stack.indexOf(next)), next].join(" → "));
      else if (!done.has(next)) visit(next);
    }
    stack.pop();
    onStack.delete(file);
    done.add(file);
  };
  for (const file of graph.keys()) if (!done.has(file)) visit(file);
  return cycles;
}

test("the cycle finder finds a two-module circle and passes a chain", () => {
  assert.deepEqual(
    importCycles(
      new Map([
        ["a", ["b"]],
        ["b", ["a"]],
      ]),
    ),
    ["a → b → a"],
  );
  assert.deepEqual(
    importCycles(
      new Map([
        ["a", ["b"]],
        ["b", ["c"]],
        ["c", []],
      ]),
    ),
    [],
  );
});

test("no import circle in src/", () => {
  const graph = new Map<string, string[]>();
  const files = sources(SRC);
  assert.ok(files.length > 50, `only ${files.length} sources found under ${SRC}`);
  for (const file of files) {
    const imports = [...readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)].map((m) =>
      normalize(join(dirname(file), m[1]!.replace(/\.js$/, ".ts"))).slice(SRC.length + 1),
    );
    graph.set(file.slice(SRC.length + 1), imports);
  }
  assert.deepEqual(importCycles(graph), []);
});
