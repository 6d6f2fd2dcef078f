// Comparing the effects a plan recorded with the ones apply carried out, step by step. Normalised,
// and only there, are the values no plan can know before the change:
// - etcd member IDs (etcd chooses them at the add) → "<id>";
// - times: backup directories and files named after the run's start (kubeha-<time>), and ISO
//   timestamps in API values (kube-proxy's restartedAt annotation) → "<time>";
// - certificates and secrets (keys, kubeconfigs with a key): each is freshly generated (a new key,
//   serial and validity), so the bytes differ; their hash and content are left out, and what they
//   are (subject, issuer, SANs, server: the summary, read from the content) is compared;
// - a Node's resourceVersion (its kubelet's heartbeats move it; a new master's Node does not exist
//   when the plan is made).
// Effects on different hosts may interleave differently when a step works on several at once (the
// workers): the comparison is per step and per host, in order within each. A step with no effect is
// the same as a step not carried out (the plan foresees that the steps before it do its work; apply
// then finds it already done).
import type { Effect } from "../../src/effects/types.js";

export interface StepEffects {
  id: string;
  effects: Effect[];
}

const TIME = /\d{8}T\d{6}Z|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;

function untimed<T>(v: T): T {
  return JSON.parse(JSON.stringify(v).replace(TIME, "<time>")) as T;
}

export function normalise(e: Effect): Effect {
  const n = untimed(structuredClone(e));
  if (n.kind === "etcd") n.id = "<id>";
  if (n.kind === "file") {
    delete n.before;
    if (n.secret || n.content?.includes("-----BEGIN CERTIFICATE-----")) {
      n.sha256 = "";
      delete n.content;
    }
  }
  if (n.kind === "api" && n.object.startsWith("/api/v1/nodes/")) delete n.resourceVersion;
  return n;
}

function groups(effects: Effect[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of effects) {
    const key = "host" in e && e.host ? e.host : "cluster";
    const list = out.get(key) ?? [];
    list.push(JSON.stringify(normalise(e)));
    out.set(key, list);
  }
  return out;
}

/** Every difference between what was planned and what was carried out; empty when they are equal. */
export function effectDifferences(planned: StepEffects[], applied: StepEffects[]): string[] {
  const out: string[] = [];
  // The same steps, whatever order the graph ran them in: independent steps run at once.
  const ids = (l: StepEffects[]) =>
    l
      .filter((s) => s.effects.length)
      .map((s) => s.id)
      .sort()
      .join(", ");
  if (ids(planned) !== ids(applied))
    out.push(`steps: planned [${ids(planned)}], carried out [${ids(applied)}]`);
  for (const p of planned) {
    const a = applied.find((s) => s.id === p.id) ?? { id: p.id, effects: [] };
    const pg = groups(p.effects);
    const ag = groups(a.effects);
    for (const key of new Set([...pg.keys(), ...ag.keys()])) {
      const pl = pg.get(key) ?? [];
      const al = ag.get(key) ?? [];
      for (let i = 0; i < Math.max(pl.length, al.length); i++) {
        if (pl[i] !== al[i]) {
          out.push(
            `${p.id} [${key}] #${i + 1}: planned ${pl[i] ?? "(nothing)"}\n  carried out ${al[i] ?? "(nothing)"}`,
          );
          break;
        }
      }
    }
  }
  return out;
}
