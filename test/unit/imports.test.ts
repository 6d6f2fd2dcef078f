// Data flows one way (inventory → discovery → plan → apply → verify): no module of src/ may reach
// itself through its imports, and no folder of src/ may reach itself through another folder.
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

/** Each source file of src/ (relative path) and the files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = sources(SRC);
  assert.ok(files.length > 50, `only ${files.length} sources found under ${SRC}`);
  for (const file of files) {
    const imports = [...readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)].map((m) =>
      normalize(join(dirname(file), m[1]!.replace(/\.js$/, ".ts"))).slice(SRC.length + 1),
    );
    graph.set(file.slice(SRC.length + 1), imports);
  }
  return graph;
}

/** A file's folder under src/ ("phases"); a file directly in src/ is its own ("cli.ts"). */
function folderOf(file: string): string {
  return file.split("/")[0]!;
}

/**
 * The folder circles of a file graph, each as "a → b → a" followed by one import per edge that makes
 * it ("a/x.ts imports b/y.ts; b/z.ts imports a/w.ts").
 */
function folderCycles(graph: Map<string, string[]>): string[] {
  const folders = new Map<string, Set<string>>();
  const example = new Map<string, string>();
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    if (!folders.has(from)) folders.set(from, new Set());
    for (const target of imports) {
      const to = folderOf(target);
      if (to === from) continue;
      folders.get(from)!.add(to);
      if (!example.has(`${from} ${to}`)) example.set(`${from} ${to}`, `${file} imports ${target}`);
    }
  }
  const cycles = importCycles(new Map([...folders].map(([f, to]) => [f, [...to]])));
  return cycles.map((c) => {
    const path = c.split(" → ");
    const edges = path.slice(1).map((to, i) => example.get(`${path[i]} ${to}`));
    return `${c}: ${edges.join("; ")}`;
  });
}

test("the folder-circle finder names the folders and one import each way", () => {
  assert.deepEqual(
    folderCycles(
      new Map([
        ["plan/types.ts", ["phases/context.ts"]],
        ["plan/build.ts", ["phases/pki.ts", "errors.ts"]],
        ["phases/pki.ts", ["plan/types.ts", "phases/context.ts"]],
        ["phases/context.ts", ["errors.ts"]],
        ["errors.ts", []],
      ]),
    ),
    ["plan → phases → plan: plan/types.ts imports phases/context.ts; phases/pki.ts imports plan/types.ts"],
  );
  assert.deepEqual(
    folderCycles(
      new Map([
        ["engine/step.ts", ["engine/context.ts"]],
        ["engine/context.ts", ["errors.ts"]],
        ["phases/pki.ts", ["engine/step.ts"]],
        ["plan/build.ts", ["phases/pki.ts", "engine/context.ts"]],
      ]),
    ),
    [],
  );
});

test("no import circle in src/", () => {
  assert.deepEqual(importCycles(importGraph()), []);
});

test("no import circle between the folders of src/", () => {
  assert.deepEqual(folderCycles(importGraph()), []);
});

// A step reaches hosts, etcd and the API only through StepContext's recorded interfaces: the engine's
// RunContext (with the raw connections behind them) is not imported where steps are made.
test("the steps see StepContext, not the engine's RunContext", () => {
  const graph = importGraph();
  const reaching = [...graph]
    .filter(([file]) => folderOf(file) === "phases" || file === "engine/step.ts")
    .filter(([, imports]) => imports.includes("engine/context.ts"))
    .map(([file]) => file);
  assert.deepEqual(reaching, []);
  assert.ok(graph.get("engine/step.ts")?.includes("engine/step-context.ts"));
});
