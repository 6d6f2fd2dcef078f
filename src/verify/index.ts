import { checkServerIdentity } from "node:tls";
import { withEndpoint } from "../etcd/client.js";
import { listMembers, memberHost, memberOf } from "../etcd/members.js";
import { clusterHealth, hashKvAll } from "../etcd/health.js";
import { servedCertificate } from "../cluster/tls.js";
import { verifyChain } from "../pki/inspect.js";
import { stalePkiFiles } from "../phases/pki.js";
import { manifestPath, type Component } from "../render/control-plane.js";
import type { RunContext } from "../phases/context.js";
import { lbChecks } from "./lb.js";
import { check, fail, type Check } from "./check.js";
import { plural } from "../ui/plural.js";
export type { Check } from "./check.js";

/**
 * The end state, checked against the live cluster and independent of any journal: every master a
 * started etcd voter, the members healthy with equal hashes, every apiserver ready and serving a
 * certificate valid for its own address and the load balancer's, every file where the plan put it.
 */
export async function verifyCluster(ctx: RunContext): Promise<Check[]> {
  const masters = ctx.masters;
  const checks: Check[] = [];
  const endpoints = await Promise.all(masters.map((m) => ctx.etcdEndpoint(m.name)));
  const tls = ctx.access.etcdTls;

  checks.push(
    await check("etcd members", async () => {
      const members = await withEndpoint(endpoints[0]!, tls, listMembers);
      const voters = members.filter((m) => !m.isLearner && m.started);
      const missing = masters.filter((h) => !memberOf(voters, memberHost(h))).map((h) => h.name);
      if (missing.length)
        fail(
          `not started voters: ${missing.join(", ")} (members: ${members.map((m) => `${m.name || m.id}${m.isLearner ? " learner" : ""}`).join(", ")})`,
        );
      if (members.length !== masters.length)
        fail(`${plural(members.length, "member")}, expected ${masters.length}`);
      return `${plural(voters.length, "started voter")}: ${voters.map((v) => v.name).join(", ")}`;
    }),
  );
  checks.push(
    await check("etcd health", async () => {
      const h = await clusterHealth(endpoints, tls);
      if (!h.healthy) fail(h.problems.join("; "));
      return `leader ${h.leader}, every member answers, no alarms`;
    }),
  );
  checks.push(
    await check("etcd hashKV", async () => {
      const r = await hashKvAll(endpoints, tls);
      if (!r.equal)
        fail(
          `hashes differ at revision ${r.revision}: ${r.hashes.map((x) => `${x.endpoint}=${x.hash ?? x.error}`).join(", ")}`,
        );
      return `equal at revision ${r.revision} (${r.hashes[0]?.hash})`;
    }),
  );
  const lb = ctx.inventory.loadBalancer;
  const caPem = (await ctx.material()).cas.ca.certPem;
  for (const m of masters) {
    checks.push(
      await check(`apiserver ${m.name}`, async () => {
        const kube = await ctx.kube(m.name);
        const r = await kube.raw("/readyz");
        if (r.status !== 200) fail(`/readyz answered ${r.status}: ${r.body.trim().slice(0, 200)}`);
        const cert = await servedCertificate(ctx.host(m.name), ctx.cluster.securePort);
        const chain = verifyChain(cert, caPem);
        if (!chain.ok) fail(`serving certificate: ${chain.reason}`);
        const names = [m.address, lb.address, ...(lb.dnsName ? [lb.dnsName] : [])];
        const legacy = cert.toLegacyObject();
        const bad = names.filter((n) => checkServerIdentity(n, legacy) !== undefined);
        if (bad.length) fail(`serving certificate is not valid for ${bad.join(", ")}`);
        // An LB on a master has that master's address, which every apiserver's certificate must then name.
        const others = masters
          .filter((o) => o.name !== m.name && o.address !== lb.address)
          .map((o) => o.address);
        const leaks = others.filter((n) => checkServerIdentity(n, legacy) === undefined);
        if (leaks.length)
          fail(`serving certificate is also valid for other masters' addresses ${leaks.join(", ")}`);
        return `ready; certificate valid for ${names.join(", ")}`;
      }),
    );
  }
  for (const m of ctx.inventory.masters) {
    checks.push(
      await check(`files ${m.name}`, async () => {
        const { problems } = await stalePkiFiles(ctx, m);
        if (problems.length) fail(problems.join("; "));
        const host = ctx.host(m.name);
        const comps: Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];
        const missing = [];
        for (const c of comps) if (!(await host.readFile(manifestPath(c)))) missing.push(manifestPath(c));
        if (missing.length) fail(`missing ${missing.join(", ")}`);
        return "certificates, kubeconfigs and the four static pod manifests in place";
      }),
    );
  }
  // The load balancer and every client of the API through it.
  checks.push(...(await lbChecks(ctx)));
  return checks;
}

export function formatChecks(checks: Check[]): string {
  const failed = checks.filter((c) => !c.ok).length;
  const warned = checks.filter((c) => c.ok && c.warning).map((c) => c.name);
  return [
    ...checks.map((c) => `${c.ok ? (c.warning ? "!" : "✓") : "✗"} ${c.name}: ${c.detail}`),
    failed
      ? `${failed} of ${checks.length} checks FAILED`
      : warned.length
        ? `all ${checks.length} checks passed, but not everything is highly available: see ${warned.join(", ")}`
        : `all ${checks.length} checks passed: the control plane is highly available`,
  ].join("\n");
}
