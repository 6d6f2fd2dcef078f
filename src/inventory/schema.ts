import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import { addressProblem, isHostname, nodeNameProblem, sanProblem } from "./names.js";
import type { Problem } from "./problems.js";
import { closest } from "./suggest.js";
import { LOAD_BALANCER_MODES } from "./load-balancer.js";

/** What a field may hold; `check` adds a rule on the value beyond its type. */
type Spec =
  | { kind: "string"; check?: (value: string) => string | undefined }
  | { kind: "int"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "list"; items: Spec }
  | { kind: "map"; fields: Record<string, Spec>; required?: readonly string[] };

const text: Spec = { kind: "string", check: (v) => (v.trim() ? undefined : "is empty") };
const bool: Spec = { kind: "bool" };
const port: Spec = { kind: "int", min: 1, max: 65535 };
const address: Spec = { kind: "string", check: addressProblem };
const user: Spec = {
  kind: "string",
  check: (v) => (/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(v) ? undefined : `"${v}" is not a valid user name`),
};
const fingerprint: Spec = {
  kind: "string",
  check: (v) =>
    /^SHA256:[A-Za-z0-9+/]{43}$/.test(v)
      ? undefined
      : `"${v}" is not a SHA256 fingerprint as \`ssh-keygen -lf\` prints it (SHA256: and 43 base64 characters)`,
};

const jumpHost: Spec = {
  kind: "map",
  required: ["address"],
  fields: { address, port, user, identityFile: text, hostKeyFingerprint: fingerprint },
};

const ssh: Spec = {
  kind: "map",
  fields: {
    user,
    port,
    identityFile: text,
    agent: bool,
    sudo: bool,
    knownHostsFile: text,
    hostKeyFingerprint: fingerprint,
    acceptNewHostKeys: bool,
    connectTimeoutSeconds: { kind: "int", min: 1, max: 600 },
    stallTimeoutSeconds: { kind: "int", min: 2, max: 3600 },
    jumpHost,
  },
};

const hostFields = { name: { kind: "string", check: nodeNameProblem }, address, ssh } satisfies Record<
  string,
  Spec
>;
const host: Spec = { kind: "map", required: ["name", "address"], fields: hostFields };

const inventory: Spec = {
  kind: "map",
  required: ["primary", "masters", "loadBalancer"],
  fields: {
    ssh,
    primary: host,
    masters: { kind: "list", items: host },
    // Which fields each mode needs or refuses is checked by loadBalancerShape() (./load-balancer.ts).
    loadBalancer: {
      kind: "map",
      fields: {
        mode: {
          kind: "string",
          check: (v) =>
            LOAD_BALANCER_MODES.some((m) => m.mode === v)
              ? undefined
              : `"${v}" is not a mode: ${LOAD_BALANCER_MODES.map((m) => m.mode).join(", ")}`,
        },
        ...hostFields,
        hosts: { kind: "list", items: host },
        virtualAddress: address,
        virtualRouterId: { kind: "int", min: 1, max: 255 },
        interface: {
          kind: "string",
          check: (v) => (/^[A-Za-z0-9._@-]{1,15}$/.test(v) ? undefined : `"${v}" is not an interface name`),
        },
        clientAddress: address,
        dnsName: {
          kind: "string",
          check: (v) => (isHostname(v) ? undefined : `"${v}" is not a DNS name`),
        },
        port,
      },
    },
    workers: { kind: "list", items: host },
    options: {
      kind: "map",
      fields: {
        extraSans: { kind: "list", items: { kind: "string", check: sanProblem } },
        workerConcurrency: { kind: "int", min: 1, max: 100 },
        etcdLearnerTimeoutSeconds: { kind: "int", min: 5, max: 3600 },
        stateDir: text,
      },
    },
  },
};

/** The inventory as written, after the schema check: every field of the right type, none unknown. */
export interface RawSsh {
  user?: string;
  port?: number;
  identityFile?: string;
  agent?: boolean;
  sudo?: boolean;
  knownHostsFile?: string;
  hostKeyFingerprint?: string;
  acceptNewHostKeys?: boolean;
  connectTimeoutSeconds?: number;
  stallTimeoutSeconds?: number;
  jumpHost?: {
    address: string;
    port?: number;
    user?: string;
    identityFile?: string;
    hostKeyFingerprint?: string;
  };
}
export interface RawHost {
  name: string;
  address: string;
  ssh?: RawSsh;
}
export interface RawLoadBalancer {
  mode?: "nginx" | "keepalived" | "external";
  name?: string;
  address?: string;
  ssh?: RawSsh;
  hosts?: RawHost[];
  virtualAddress?: string;
  virtualRouterId?: number;
  interface?: string;
  clientAddress?: string;
  dnsName?: string;
  port?: number;
}
export interface RawInventory {
  ssh?: RawSsh;
  primary: RawHost;
  masters: RawHost[];
  loadBalancer: RawLoadBalancer;
  workers?: RawHost[];
  options?: {
    extraSans?: string[];
    workerConcurrency?: number;
    etcdLearnerTimeoutSeconds?: number;
    stateDir?: string;
  };
}

export interface SchemaResult {
  /** Present only when there were no problems. */
  raw?: RawInventory;
  problems: Problem[];
  /** Line of every field path seen, so later stages can point at lines too. */
  lines: Map<string, number>;
}

/** Checks the parsed YAML document against the schema, collecting every problem rather than stopping. */
export function checkSchema(doc: Document, lineCounter: LineCounter): SchemaResult {
  const problems: Problem[] = [];
  const lines = new Map<string, number>();
  const lineOf = (node: Node | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;

  const walk = (node: unknown, spec: Spec, path: string): unknown => {
    const resolved = isAlias(node) ? node.resolve(doc) : node;
    const line = lineOf(resolved as Node | undefined);
    // A field is located at its key, which walk() of the enclosing map recorded first.
    if (line !== undefined && !lines.has(path)) lines.set(path, line);
    const fail = (message: string): undefined => {
      problems.push({ path, message, line: lines.get(path) });
      return undefined;
    };
    const value = isScalar(resolved) ? resolved.value : resolved;
    if (value === null || value === undefined) return fail("is empty");

    switch (spec.kind) {
      case "string": {
        if (typeof value !== "string") return fail(`must be a string, not ${describe(value)}`);
        const problem = spec.check?.(value);
        return problem ? fail(problem) : value;
      }
      case "int":
        if (typeof value !== "number" || !Number.isInteger(value)) {
          return fail(`must be an integer, not ${describe(value)}`);
        }
        return value < spec.min || value > spec.max
          ? fail(`must be ${spec.min}–${spec.max}, not ${value}`)
          : value;
      case "bool":
        return typeof value === "boolean" ? value : fail(`must be true or false, not ${describe(value)}`);
      case "list": {
        if (!isSeq(resolved)) return fail(`must be a list, not ${describe(value)}`);
        const items = resolved.items.map((item, i) => walk(item, spec.items, `${path}[${i}]`));
        return items.includes(undefined) ? undefined : items;
      }
      case "map": {
        if (!isMap(resolved)) return fail(`must be a mapping, not ${describe(value)}`);
        const out: Record<string, unknown> = {};
        let ok = true;
        const known = Object.keys(spec.fields);
        for (const pair of resolved.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          const keyPath = path ? `${path}.${key}` : key;
          const fieldSpec = spec.fields[key];
          if (!fieldSpec) {
            const hint = closest(key, known);
            problems.push({
              path: keyPath,
              line: lineOf(pair.key as Node),
              message: `unknown field${hint ? `; did you mean "${hint}"?` : `; known fields: ${known.join(", ")}`}`,
            });
            ok = false;
            continue;
          }
          // A key with nothing after it has no position of its own: point at the key.
          if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) {
            problems.push({ path: keyPath, message: "is empty", line: lineOf(pair.key as Node) });
            ok = false;
            continue;
          }
          const keyLine = lineOf(pair.key as Node);
          if (keyLine !== undefined) lines.set(keyPath, keyLine);
          const v = walk(pair.value, fieldSpec, keyPath);
          if (v === undefined) ok = false;
          else out[key] = v;
        }
        for (const name of spec.required ?? []) {
          if (!resolved.has(name)) {
            problems.push({
              path: path ? `${path}.${name}` : name,
              message: "is required",
              line: lines.get(path),
            });
            ok = false;
          }
        }
        return ok ? out : undefined;
      }
    }
  };

  const raw = walk(doc.contents, inventory, "");
  return { raw: problems.length === 0 ? (raw as RawInventory) : undefined, problems, lines };
}

function describe(value: unknown): string {
  if (isMap(value)) return "a mapping";
  if (isSeq(value)) return "a list";
  if (typeof value === "string") return `the string "${value}"`;
  return `${typeof value} ${String(value)}`;
}
