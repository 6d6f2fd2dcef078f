// What a run killed at a given progress line left behind, read from its journal and with etcdctl.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lab } from "./lab.js";
import { etcdctl } from "./etcdctl.js";

/**
 * What a killed run left: the steps its journal says were in progress (started, never finished;
 * several run at once in a conversion), and
 * etcd's voters and learners by host, asked through `via`'s member (a learner that never started has
 * no name, only its peer URL).
 */
export async function stateAtKill(
  lab: Lab,
  via = lab.primary.name,
): Promise<{ inProgress: string[]; voters: string[]; learners: string[] }> {
  const journal = JSON.parse(await readFile(join(lab.stateDir, "journal.json"), "utf8")) as {
    runs: { finished?: string; steps: { id: string; outcome: string }[] }[];
  };
  const last = journal.runs.at(-1);
  assert.ok(last && last.finished === undefined, "the killed run's journal entry is not finished");
  const outcome = new Map(last.steps.map((s) => [s.id, s.outcome]));
  const inProgress = [...outcome].filter(([, o]) => o === "started").map(([id]) => id);
  assert.ok(inProgress.length, `no step in progress in the journal: ${JSON.stringify(last.steps)}`);
  const list = await etcdctl(lab, [lab.host(via).address], "member", "list", "-w", "json");
  assert.equal(list.code, 0, list.stderr);
  const members = (JSON.parse(list.stdout) as { members: { peerURLs?: string[]; isLearner?: boolean }[] })
    .members;
  const hostOf = (m: { peerURLs?: string[] }) =>
    lab.hosts.find((h) => m.peerURLs?.includes(`https://${h.address}:2380`))?.name ??
    m.peerURLs?.join(",") ??
    "?";
  const voters = members
    .filter((m) => !m.isLearner)
    .map(hostOf)
    .sort();
  const health = await etcdctl(
    lab,
    voters.map((v) => lab.host(v).address),
    "endpoint",
    "health",
  );
  assert.equal(health.code, 0, `the voters are healthy: ${health.stdout}${health.stderr}`);
  return {
    inProgress,
    voters,
    learners: members
      .filter((m) => m.isLearner)
      .map(hostOf)
      .sort(),
  };
}
