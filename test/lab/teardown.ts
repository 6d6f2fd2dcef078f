// Stopping a lab, by PID, and finding the leftovers of crashed runs by the namespace stem.
import { existsSync } from "node:fs";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deleteNamespace, listNamespaces, namespacePids, STEM } from "./netns.js";
import { alive, sleep } from "./proc.js";

/** What `lab:down` needs to find and remove a lab; written to <dir>/state.json as it grows. */
export interface LabState {
  id: string;
  prefix: string;
  dir: string;
  namespaces: string[];
  /** /etc/netns/<ns> directories the lab created. */
  etcNetns: string[];
  /** Every process the lab started, in start order. */
  pids: number[];
  /** The process that owns the lab (0 once `cli.ts up` has handed it over to people). */
  ownerPid: number;
  /** Extra human-readable facts for `cli.ts up`. */
  info?: Record<string, unknown>;
}

export const LAB_DIR_STEM = "/tmp/khlab-";

export function saveState(s: LabState): Promise<void> {
  return writeFile(join(s.dir, "state.json"), JSON.stringify(s, null, 2));
}

/** A process may exit between the check and the signal. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** TERM, up to 3 s grace, then KILL. */
export async function stopPids(pids: number[]): Promise<void> {
  const live = pids.filter(alive);
  for (const p of live) signal(p, "SIGTERM");
  const deadline = Date.now() + 3000;
  while (live.some(alive) && Date.now() < deadline) await sleep(25);
  for (const p of live.filter(alive)) signal(p, "SIGKILL");
  while (live.some(alive) && Date.now() < deadline + 2000) await sleep(25);
}

/** Stops the lab's own PIDs, then whatever still runs in its namespaces, then removes it all. */
export async function destroy(s: LabState, ownPids: boolean): Promise<void> {
  // Reverse start order: kubelet stand-ins stop their pods before the anchors go.
  if (ownPids) await stopPids([...s.pids].reverse());
  for (const ns of s.namespaces) await stopPids(await namespacePids(ns));
  await Promise.all(s.namespaces.map(deleteNamespace));
  await Promise.all(s.etcNetns.map((d) => rm(d, { recursive: true, force: true })));
  await rm(s.dir, { recursive: true, force: true });
}

async function readState(dir: string): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as LabState;
  } catch {
    return undefined;
  }
}

/**
 * Removes every lab whose owner is gone (or all with force): namespaces named <STEM><id>-*,
 * /etc/netns/<STEM>*, /tmp/khlab-<id>. PIDs come from `ip netns pids`, never from stale state.
 */
export async function downAll(force: boolean, log: (m: string) => void): Promise<void> {
  const ids = new Set<string>();
  const re = new RegExp(`^${STEM}([0-9a-f]+)-`);
  for (const ns of await listNamespaces()) {
    const id = re.exec(ns)?.[1];
    if (id) ids.add(id);
  }
  for (const e of await readdir("/tmp")) if (e.startsWith("khlab-")) ids.add(e.slice("khlab-".length));
  const netnsEntries = existsSync("/etc/netns") ? await readdir("/etc/netns") : [];
  const namespaces = await listNamespaces();
  for (const id of ids) {
    const prefix = `${STEM}${id}-`;
    const dir = `${LAB_DIR_STEM}${id}`;
    const state = await readState(dir);
    if (!force && state && state.ownerPid !== 0 && alive(state.ownerPid)) {
      log(`lab ${id}: owner process ${state.ownerPid} is running; skipped (--force to remove)`);
      continue;
    }
    await destroy(
      {
        id,
        prefix,
        dir,
        namespaces: namespaces.filter((n) => n.startsWith(prefix)),
        etcNetns: netnsEntries.filter((n) => n.startsWith(prefix)).map((n) => join("/etc/netns", n)),
        pids: [],
        ownerPid: 0,
      },
      false,
    );
    log(`lab ${id}: removed`);
  }
}
