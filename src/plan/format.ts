import { unifiedDiff } from "../render/diff.js";
import { elide, wrapText } from "../ui/wrap.js";
import { waves } from "./graph.js";
import type { FileChange, Step } from "../engine/step.js";
import { effectOnly, type Effect } from "../effects/types.js";
import { effectLines } from "../effects/format.js";

export interface PlannedStep {
  step: Step;
  done: boolean;
  /** What the step's own run does, recorded without changing anything (src/plan/effects.ts). */
  effects?: Effect[];
  /** Where that run stopped, when it could not go on without the real changes. */
  effectsError?: string;
}

/** The files a step writes: declared by hand (steps whose effects are not recorded) or recorded. */
export function filesOf(p: PlannedStep): FileChange[] {
  const recorded = (p.effects ?? []).flatMap((e): FileChange[] =>
    e.kind === "file"
      ? [
          {
            host: e.host,
            path: e.path,
            mode: e.mode,
            secret: e.secret,
            ...(e.before !== undefined && e.before !== null && { before: e.before }),
            after: e.summary ?? e.content ?? `sha256 ${e.sha256}`,
          },
        ]
      : [],
  );
  return [...p.step.files, ...recorded];
}

/** How the plan is laid out: for a terminal (wrapped, key material elided) or in full (the log). */
export interface PlanLayout {
  /** Columns every line must fit in; Infinity: lines are not wrapped. */
  width: number;
  /** Base64 and PEM blocks shown as length and checksum. */
  elide: boolean;
}

/** The log's copy: nothing cut, nothing wrapped (secrets are still only described). */
export const FULL_LAYOUT: PlanLayout = { width: Infinity, elide: false };

/**
 * Each kind of step as the summary names it in one line at 80 columns: what, why, and how long it may
 * take (its usual time and, where it waits on the cluster, the bound of that wait in src/phases/).
 * Matched on the step's id, first match wins; a step not listed shows its title and reason, cut.
 */
const SUMMARIES: { id: RegExp; what: string; why: string; time: string }[] = [
  {
    id: /^load-balancer\//,
    what: "nginx in front of every apiserver",
    why: "one API address",
    time: "seconds",
  },
  {
    id: /^pki\/[^/]+\/apiserver$/,
    what: "apiserver cert + LB names",
    why: "clients use the LB",
    time: "seconds",
  },
  {
    id: /^pki\/[^/]+\/etcd$/,
    what: "CAs, etcd certs, kubelet",
    why: "what its etcd member needs",
    time: "1-5 s",
  },
  { id: /^pki\//, what: "certificates, kubeconfigs", why: "from the primary's CAs", time: "2-10 s" },
  {
    id: /^etcd\/[^/]+\/peer-urls$/,
    what: "etcd peer URL off localhost",
    why: "peers reach it",
    time: "< 1 min",
  },
  { id: /^etcd\//, what: "etcd learner, then voter", why: "quorum never at risk", time: "< 2 min" },
  {
    id: /^control-plane\/[^/]+\/healthz$/,
    what: "controller-manager, scheduler",
    why: "wait for /healthz",
    time: "< 2 min",
  },
  { id: /^control-plane\//, what: "start the control plane", why: "the primary's flags", time: "< 2 min" },
  {
    id: /^clients\/kube-proxy$/,
    what: "kube-proxy through the LB",
    why: "any master may fail",
    time: "< 3 min",
  },
  {
    id: /^clients\/cluster-info$/,
    what: "cluster-info through the LB",
    why: "joins use the LB",
    time: "seconds",
  },
  {
    id: /^clients\/kubeadm-config$/,
    what: "kubeadm-config endpoint: LB",
    why: "joins, upgrades",
    time: "seconds",
  },
  {
    id: /^clients\/node-role\//,
    what: "control-plane label, taint",
    why: "as the primary's",
    time: "seconds",
  },
  {
    id: /^clients\/kubeconfigs\//,
    what: "kubeconfigs through the LB",
    why: "any master may fail",
    time: "seconds",
  },
  {
    id: /^clients\/workers$/,
    what: "kubelet.conf through the LB",
    why: "any master may fail",
    time: "< 2 min each",
  },
];

function summaryOf(step: Step): { what: string; why: string; time: string } {
  return (
    SUMMARIES.find((x) => x.id.test(step.id)) ?? {
      what: step.title,
      why: step.why.split(/[;:(]/)[0]!.trim(),
      time: "seconds",
    }
  );
}

/** `text` cut to `room` characters, with "…" where it was cut. */
function cut(text: string, room: number): string {
  if (text.length <= room) return text;
  return room <= 1 ? "…".slice(0, Math.max(0, room)) : `${text.slice(0, room - 1).trimEnd()}…`;
}

function header(steps: PlannedStep[], backupDir: string): string {
  const pending = steps.filter((s) => !s.done).length;
  return pending
    ? `Plan: ${pending} of ${steps.length} steps to do. Before the first change, a backup goes to ${backupDir}`
    : `Plan: nothing to do: all ${steps.length} steps are already done.`;
}

/** A step as the plan lists it: its number, and the wave it starts in (none: already done). */
interface Listed extends PlannedStep {
  n: number;
  wave?: number;
}

/**
 * The steps in the order the runner takes them: those already done first, then each wave (the steps
 * that start together, src/plan/graph.ts), numbered in that order. `graph`: some wave has several
 * steps (a plan that is one sequence is listed as it is, without waves).
 */
function runOrder(steps: PlannedStep[]): { listed: Listed[]; graph: boolean } {
  const done = steps.filter((s) => s.done);
  const byStep = new Map(steps.map((s) => [s.step, s]));
  const ws = waves(
    steps.map((s) => s.step),
    new Set(done.map((s) => s.step.id)),
  );
  const listed: Listed[] = [
    ...done.map((s) => ({ ...s, n: 0 })),
    ...ws.flatMap((w, i) => w.map((step) => ({ ...byStep.get(step)!, n: 0, wave: i + 1 }))),
  ];
  listed.forEach((l, i) => (l.n = i + 1));
  return { listed, graph: ws.some((w) => w.length > 1) };
}

const GRAPH_NOTE =
  "The steps of one wave run at the same time (one at a time per host); each starts once the steps it needs are done.";

/**
 * One line per step, each within `width`: number, host, what and why (the reason cut first when the
 * line is full), and how long it may take, or "done"; in a graph, each wave under a line naming it.
 */
export function planSummary(steps: PlannedStep[], backupDir: string, width: number): string {
  const { listed, graph } = runOrder(steps);
  const hostWidth = Math.min(12, Math.max(...steps.map((s) => s.step.host.length), 4));
  const numWidth = String(steps.length).length;
  const lines: string[] = [];
  listed.forEach(({ step, done, n, wave }, i) => {
    if (graph && i === 0 && done) lines.push("already done:");
    if (graph && wave !== undefined && listed[i - 1]?.wave !== wave) lines.push(`wave ${wave}:`);
    const { what, why, time } = summaryOf(step);
    const head = `${String(n).padStart(numWidth)}. ${cut(step.host, hostWidth).padEnd(hostWidth)}  `;
    const tail = `  ${done ? "done" : time}`;
    const room = width - head.length - tail.length;
    const whyRoom = room - what.length - 3;
    const text = whyRoom >= 8 ? `${what} — ${cut(why, whyRoom)}` : cut(what, room);
    lines.push(`${head}${text.padEnd(Number.isFinite(room) ? room : 0)}${tail}`);
  });
  const intro = graph ? `${header(steps, backupDir)}\n${GRAPH_NOTE}` : header(steps, backupDir);
  return [wrapText(intro, width), ...lines].join("\n");
}

function fileName(step: Step, host: string, path: string): string {
  // Entries of a step that spans hosts (the workers) each name their host.
  return host === step.host ? path : `${host}:${path}`;
}

function fileLines(step: Step, layout: PlanLayout): string[] {
  const show = (text: string): string => (layout.elide ? elide(text) : text);
  const out: string[] = [];
  for (const f of step.files) {
    const mode = f.mode.toString(8).padStart(4, "0");
    const name = fileName(step, f.host, f.path);
    if (f.secret) {
      out.push(`    ${name} (${mode}, secret): ${f.after}`);
    } else if (f.after.includes("\n")) {
      if (f.before === f.after) {
        out.push(`    ${name} (${mode}): unchanged`);
        continue;
      }
      out.push(`    ${name} (${mode}): ${f.before === undefined ? "new file" : "changed"}`);
      // Elided before the diff: a changed certificate shows as a changed checksum, not 30 lines.
      const diff = unifiedDiff(show(f.before ?? ""), show(f.after), {
        fromFile: `a${f.path}`,
        toFile: `b${f.path}`,
      });
      out.push(
        ...diff
          .split("\n")
          .filter(Boolean)
          .map((l) => `      ${l}`),
      );
    } else {
      out.push(`    ${name} (${mode}): ${show(f.after)}`);
    }
  }
  return out;
}

/** Every step in full: host, what and why, details, every file and change. */
export function planDetails(steps: PlannedStep[], layout: PlanLayout): string {
  const lines: string[] = [];
  runOrder(steps).listed.forEach(({ step, done, n, effects, effectsError }, i) => {
    if (i > 0) lines.push("");
    lines.push(`${n}. [${step.host}] ${step.title}${done ? "  (already done)" : ""}`, `   why: ${step.why}`);
    if (!done) {
      const show = (text: string): string => (layout.elide ? elide(text) : text);
      lines.push(...step.details.map((d) => `   - ${show(d)}`));
      lines.push(...fileLines(step, layout));
      for (const e of effects ?? []) lines.push(...effectLines(e, { show, host: step.host }));
      if (effects?.length === 0 && !effectsError)
        lines.push("    nothing: the steps before it leave nothing for it to change");
      if (effectsError) lines.push(`    (what follows depends on this step really running: ${effectsError})`);
    }
  });
  return wrapText(lines.join("\n"), layout.width);
}

/** The plan as an operator reads it: the summary, then every step in detail. */
export function formatPlan(
  steps: PlannedStep[],
  backupDir: string,
  layout: PlanLayout = FULL_LAYOUT,
): string {
  return `${planSummary(steps, backupDir, layout.width)}\n\nDetails:\n\n${planDetails(steps, layout)}`;
}

/** The plan for machines: the same content, secrets described, never included. */
export function planJson(steps: PlannedStep[], backupDir: string) {
  const wave = new Map(runOrder(steps).listed.map((l) => [l.step.id, l.wave]));
  return {
    backupDir,
    pending: steps.filter((s) => !s.done).length,
    steps: steps.map((p) => {
      const { step, done } = p;
      return {
        id: step.id,
        needs: step.needs ?? [],
        wave: wave.get(step.id) ?? null,
        phase: step.phase,
        host: step.host,
        title: step.title,
        why: step.why,
        done,
        duration: summaryOf(step).time,
        details: step.details,
        ...(p.effects && { effects: p.effects.map(effectOnly) }),
        files: filesOf(p).map((f) => ({
          host: f.host,
          path: f.path,
          mode: f.mode.toString(8).padStart(4, "0"),
          secret: f.secret,
          ...(f.secret ? { description: f.after } : { before: f.before ?? null, after: f.after }),
        })),
        rollback: step.rollback,
      };
    }),
  };
}
