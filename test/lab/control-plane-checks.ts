// What the lab tests of replace, remove and grow read back independently of kubeha's code: etcd's
// voters with etcdctl, the LB's upstreams with nginx -T, the Nodes with kubectl.
import assert from "node:assert/strict";
import type { Lab } from "./lab.js";
import { etcdctl } from "./etcdctl.js";

/** The etcd members' names, sorted, asked through `via`'s member; every one a started voter. */
export async function voters(lab: Lab, via = lab.primary.name): Promise<string[]> {
  const list = await etcdctl(lab, [lab.host(via).address], "member", "list", "-w", "json");
  assert.equal(list.code, 0, list.stderr);
  const members = (JSON.parse(list.stdout) as { members: { name?: string; isLearner?: boolean }[] }).members;
  assert.ok(
    members.every((m) => !m.isLearner && m.name),
    `every member a started voter: ${list.stdout}`,
  );
  return members.map((m) => m.name!).sort();
}

/** The apiservers the LB's nginx proxies to, by host name, sorted. */
export async function upstreams(lab: Lab): Promise<string[]> {
  const t = await lab.exec("lb", ["nginx", "-T"]);
  assert.equal(t.code, 0, t.stderr);
  const byAddress = new Map(lab.hosts.map((h) => [h.address, h.name]));
  return [...t.stdout.matchAll(/^\s*server ([\d.]+):6443/gm)]
    .map((m) => byAddress.get(m[1]!) ?? m[1]!)
    .sort();
}

/** kubectl from the workstation with the lab's admin kubeconfig, through `via`'s apiserver. */
export function kubectlVia(lab: Lab, via: string, ...args: string[]) {
  return lab.wsExec([
    "kubectl",
    "--kubeconfig",
    lab.adminKubeconfig,
    "--server",
    `https://${lab.host(via).address}:6443`,
    "--request-timeout=20s",
    ...args,
  ]);
}

/** The Nodes' names, sorted, asked with kubectl through `via`'s apiserver. */
export async function nodeNames(lab: Lab, via = lab.primary.name): Promise<string[]> {
  const r = await kubectlVia(lab, via, "get", "nodes", "-o", "name");
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^node\//, ""))
    .sort();
}
