/**
 * Checks of the load balancer and of every client of the API: the API through nginx with admin.conf,
 * each apiserver reached through the LB with a certificate valid for the LB's address and name, the
 * ConfigMaps and kubeconfigs pointing at it, the new masters' role, every node Ready.
 */
import { checkServerIdentity as tlsCheckServerIdentity } from "node:tls";
import { KubeClient } from "../kube/client.js";
import { parseKubeconfig, type Material } from "../pki/kubeconfig.js";
import { verifyChain } from "../pki/inspect.js";
import { servedCertificate } from "../cluster/tls.js";
import { peerCertificate } from "../cluster/entry-point.js";
import { readSecret } from "../discover/primary.js";
import { kubeconfigServers } from "../render/kubeadm-config.js";
import { configMapProblems, MASTER_LB_KUBECONFIGS, nodeRoleProblems } from "../phases/clients.js";
import { KUBELET_CONF, lbServer, primaryKube, type NodeObject } from "../phases/kubelet.js";
import type { RunContext } from "../phases/context.js";
import type { Forward } from "../ssh/types.js";
import { check, fail, type Check } from "./check.js";
import { nginxServes } from "../phases/load-balancer.js";
import { vipHolders } from "../phases/keepalived.js";
import { plural } from "../ui/plural.js";

/** The host the entry point is reached from: an LB host, or (external LB) the primary. */
export function lbVantage(ctx: RunContext): string {
  return (ctx.inventory.loadBalancer.hosts[0] ?? ctx.inventory.primary).name;
}

/** A port on this machine that reaches the LB's client address and port, from `via` (default lbVantage()). */
export async function lbForward(ctx: RunContext, via = lbVantage(ctx)): Promise<Forward> {
  const lb = ctx.inventory.loadBalancer;
  return ctx.host(via).forward(lb.port, lb.address);
}

/**
 * A client through the LB with the credentials of the primary's admin.conf, whose server must be the
 * LB; the certificate is checked against the LB's address, as kubectl would.
 */
export async function lbClient(ctx: RunContext, fwd: Forward): Promise<KubeClient> {
  const primary = ctx.host(ctx.inventory.primary.name);
  const file = "/etc/kubernetes/admin.conf";
  const info = parseKubeconfig(await readSecret(primary, file), { file: `${primary.name}:${file}` });
  const pem = async (m: Material | undefined, what: string): Promise<string> => {
    if (!m) throw new Error(`${primary.name}:${file} has no ${what}`);
    return m.pem ?? (await readSecret(primary, m.file));
  };
  return new KubeClient({
    connectHost: "127.0.0.1",
    connectPort: fwd.localPort,
    serverName: new URL(info.server).hostname.replace(/^\[|\]$/g, ""),
    ca: await pem(info.ca, "certificate authority"),
    cert: await pem(info.clientCert, "client certificate"),
    key: await pem(info.clientKey, "client key"),
    label: `apiserver through the load balancer (${info.server})`,
  });
}

/** Each LB host's nginx serves every apiserver; under keepalived, one host holds the virtual address. */
async function lbHostChecks(ctx: RunContext): Promise<Check[]> {
  const lb = ctx.inventory.loadBalancer;
  const checks: Check[] = [];
  for (const h of lb.hosts) {
    checks.push(
      await check(`nginx on ${h.name}`, async () => {
        const problem = await nginxServes(ctx, h.name);
        if (problem) fail(problem);
        return `port ${lb.port} → ${ctx.masters.map((m) => m.name).join(", ")}`;
      }),
    );
  }
  if (lb.mode === "keepalived") {
    checks.push(
      await check("virtual address", async () => {
        const holders = await vipHolders(ctx);
        if (holders.length !== 1) fail(`${lb.address} held by ${holders.join(" and ") || "no LB host"}`);
        return `${lb.address} on ${holders[0]} (keepalived ready to move it to ${lb.hosts
          .filter((h) => h.name !== holders[0])
          .map((h) => h.name)
          .join(", ")})`;
      }),
    );
  }
  return checks;
}

export async function lbChecks(ctx: RunContext): Promise<Check[]> {
  const lb = ctx.inventory.loadBalancer;
  const server = lbServer(ctx);
  const checks: Check[] = await lbHostChecks(ctx);
  const fwd = await lbForward(ctx).catch((err: unknown) => err as Error);
  try {
    checks.push(
      await check("API through the LB with admin.conf", async () => {
        if (fwd instanceof Error)
          fail(`cannot reach ${lb.address}:${lb.port} from ${lbVantage(ctx)}: ${fwd.message}`);
        const text = await readSecret(ctx.host(ctx.inventory.primary.name), "/etc/kubernetes/admin.conf");
        const servers = kubeconfigServers(text);
        if (servers.some((s) => s !== server))
          fail(`admin.conf points at ${servers.join(",")}, not ${server}`);
        const kube = await lbClient(ctx, fwd);
        const nodes = await kube.get<{ items: NodeObject[] }>("/api/v1/nodes");
        return `GET /api/v1/nodes through ${server}: ${plural(nodes.items.length, "node")}`;
      }),
    );
    checks.push(
      await check("LB reaches every apiserver", async () => {
        if (fwd instanceof Error) fail(fwd.message);
        const caPem = (await ctx.material()).cas.ca.certPem;
        const wanted = new Map<string, string>();
        for (const m of ctx.masters) {
          const cert = await servedCertificate(ctx.host(m.name), ctx.cluster.securePort);
          wanted.set(cert.fingerprint256, m.name);
        }
        const seen = new Set<string>();
        const names = [lb.address, ...(lb.dnsName ? [lb.dnsName] : [])];
        let tries = 0;
        while (seen.size < wanted.size && tries < 30) {
          tries++;
          const cert = await peerCertificate(fwd.localPort).catch(() => undefined);
          if (!cert) continue;
          const who = wanted.get(cert.fingerprint256);
          if (!who) fail(`the LB presented a certificate of no master (${cert.subject})`);
          if (seen.has(who)) continue;
          const chain = verifyChain(cert, caPem);
          if (!chain.ok) fail(`${who}'s certificate through the LB: ${chain.reason}`);
          const legacy = cert.toLegacyObject();
          const bad = names.filter((n) => tlsCheckServerIdentity(n, legacy) !== undefined);
          if (bad.length) fail(`${who}'s certificate is not valid for ${bad.join(", ")}`);
          seen.add(who);
        }
        const missing = ctx.masters.filter((m) => !seen.has(m.name)).map((m) => m.name);
        if (missing.length) fail(`after ${tries} connections, never reached ${missing.join(", ")}`);
        return `${plural(seen.size, "apiserver")} seen in ${plural(tries, "connection")}; each certificate valid for ${names.join(", ")}`;
      }),
    );
  } finally {
    if (!(fwd instanceof Error)) await fwd.close();
  }
  checks.push(
    await check("ConfigMaps through the LB", async () => {
      const problems = await configMapProblems(ctx);
      if (problems.length) fail(problems.join("; "));
      return `kube-proxy, cluster-info and kubeadm-config name ${server}`;
    }),
  );
  checks.push(
    await check("kubeconfigs on the masters", async () => {
      const problems: string[] = [];
      for (const m of ctx.masters) {
        const h = ctx.host(m.name);
        for (const p of MASTER_LB_KUBECONFIGS) {
          const text = (await h.readFile(p))?.toString("utf8");
          if (text === undefined) {
            if (p !== MASTER_LB_KUBECONFIGS[1]) problems.push(`${m.name}:${p} missing`);
            continue;
          }
          const s = kubeconfigServers(text);
          if (s.some((x) => x !== server)) problems.push(`${m.name}:${p} → ${s.join(",")}`);
        }
        for (const p of ["/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf"]) {
          const text = (await h.readFile(p))?.toString("utf8");
          if (text === undefined) problems.push(`${m.name}:${p} missing`);
          else if (kubeconfigServers(text).includes(server))
            problems.push(`${m.name}:${p} goes through the LB; it should use its local apiserver`);
        }
      }
      if (problems.length) fail(problems.join("; "));
      return `admin.conf and kubelet.conf on ${plural(ctx.masters.length, "master")} → ${server}; controller-manager.conf and scheduler.conf local`;
    }),
  );
  if (ctx.inventory.workers.length) {
    checks.push(
      await check("kubelet.conf on the workers", async () => {
        const problems: string[] = [];
        for (const w of ctx.inventory.workers) {
          try {
            const text = (await ctx.host(w.name).readFile(KUBELET_CONF))?.toString("utf8");
            if (text === undefined) problems.push(`${w.name}: no ${KUBELET_CONF}`);
            else if (kubeconfigServers(text).some((x) => x !== server))
              problems.push(`${w.name} → ${kubeconfigServers(text).join(",")}`);
          } catch (err) {
            problems.push(`${w.name}: ${(err as Error).message}`);
          }
        }
        if (problems.length) fail(problems.join("; "));
        return `${plural(ctx.inventory.workers.length, "worker")} → ${server}`;
      }),
    );
  }
  checks.push(
    await check("control-plane roles", async () => {
      const problems: string[] = [];
      for (const m of ctx.inventory.masters) {
        for (const p of await nodeRoleProblems(ctx, m)) problems.push(`${m.name}: ${p}`);
      }
      if (problems.length) fail(problems.join("; "));
      return `${ctx.inventory.masters.map((m) => m.name).join(", ")} labelled and tainted as the primary is`;
    }),
  );
  checks.push(
    await check("nodes Ready", async () => {
      const kube = await primaryKube(ctx);
      const nodes = await kube.get<{ items: NodeObject[] }>("/api/v1/nodes");
      const names = new Set(nodes.items.map((n) => n.metadata.name));
      const expected = [...ctx.masters, ...ctx.inventory.workers].map((h) => h.name);
      const missing = expected.filter((n) => !names.has(n));
      const notReady = nodes.items
        .filter((n) => n.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True")
        .map((n) => n.metadata.name);
      if (missing.length || notReady.length)
        fail(
          [
            missing.length ? `not registered: ${missing.join(", ")}` : "",
            notReady.length ? `not Ready: ${notReady.join(", ")}` : "",
          ]
            .filter(Boolean)
            .join("; "),
        );
      return `${plural(nodes.items.length, "node")} Ready`;
    }),
  );
  return checks;
}
