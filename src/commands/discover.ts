import type { CommandContext } from "./context.js";
import { ExitCode } from "../errors.js";
import { ClusterAccess } from "../discover/access.js";
import type { Inventory } from "../inventory/types.js";
import type { Host } from "../ssh/types.js";
import { collectReferences, endpointOf, targetOf, type Collected } from "../references/collect.js";
import { formatReport, referencesJson } from "../references/format.js";
import { terminalWidth } from "../ui/wrap.js";
import { discover } from "../discover/index.js";
import type { DiscoveryResult, Finding } from "../discover/types.js";
import { inventoryFrom, withHosts } from "./session.js";
import { withWorkers } from "./worker-hosts.js";
import { plural } from "../ui/plural.js";
import { controlHosts } from "../inventory/types.js";

/**
 * The references scan, read-only, through the primary's apiserver: what will still point at the
 * primary after the conversion unless changed. A cluster that cannot be read is a warning here
 * (discovery's own findings say why).
 */
async function discoveryReferences(
  ctx: CommandContext,
  inv: Inventory,
  result: DiscoveryResult,
  byName: Map<string, Host>,
): Promise<Collected | undefined> {
  const primary = byName.get(inv.primary.name);
  if (!primary) return undefined;
  let access: ClusterAccess | undefined;
  try {
    access = await ClusterAccess.open(primary, result.cluster.certificatesDir);
    return await collectReferences({
      kube: await access.kube(primary, result.cluster.securePort, inv.primary.address),
      hosts: [...byName.values()],
      target: targetOf(inv, result.cluster),
      lb: endpointOf(inv),
      ...(ctx.values.kubeconfig && { kubeconfig: ctx.values.kubeconfig }),
    });
  } catch (err) {
    ctx.reporter.warn(`references scan failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  } finally {
    await access?.close();
  }
}

/** `kubeha discover`: read the cluster and the hosts, change nothing, report. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const inv = await inventoryFrom(ctx);
  const hosts = controlHosts(inv);
  ctx.reporter.info(`discovering ${plural(hosts.length, "host")} from ${inv.path}`);
  const { result, references } = await withHosts(
    hosts,
    // Workers too: discovery reads who each is, so that no machine is entered twice.
    (byName) =>
      withWorkers(inv.workers, byName, ctx.reporter, async () => {
        const result = await discover(inv, byName);
        return { result, references: await discoveryReferences(ctx, inv, result, byName) };
      }),
    ctx.reporter,
  );
  if (ctx.values.output === "json") {
    const { manifests: _manifests, ...cluster } = result.cluster;
    ctx.reporter.result({
      ...result,
      cluster,
      ...(references && { references: referencesJson(references) }),
    });
  } else {
    ctx.reporter.print(formatDiscovery(result));
    if (references) ctx.reporter.print(formatReport(references, terminalWidth()), formatReport(references));
  }
  ctx.reporter.info(`discovery finished in ${ctx.reporter.elapsed()}`);
  return result.findings.some((f) => f.severity === "error") ? ExitCode.badInput : ExitCode.ok;
}

export function formatFindings(findings: Finding[]): string[] {
  return findings.map(
    (f) =>
      `  ${f.severity === "error" ? "✗" : "!"} ${f.host}: ${f.message}${f.fix ? `\n      fix: ${f.fix}` : ""}`,
  );
}

export function formatDiscovery(r: DiscoveryResult): string {
  const c = r.cluster;
  const lines = [
    `Cluster, read from ${c.primary.name} (${c.primary.address}, hostname ${c.primary.hostname})`,
    `  Kubernetes          ${c.kubernetesVersion}`,
    `  etcd                image ${c.etcdImageVersion}${c.etcdServerVersion ? `, server ${c.etcdServerVersion}` : ""}`,
    `  apiserver           ${c.advertiseAddress}:${c.securePort}`,
    `  service CIDR        ${c.serviceCidr}`,
    `  pod CIDR            ${c.podCidr ?? "(not set)"}`,
    `  cluster domain      ${c.clusterDomain}`,
    `  control-plane endpoint ${c.controlPlaneEndpoint ?? "(none)"}`,
    `  certificates        ${c.certificatesDir}; CA keys: ca ${yes(c.caKeys.ca)}, front-proxy-ca ${yes(c.caKeys.frontProxyCa)}, etcd/ca ${yes(c.caKeys.etcdCa)}`,
    `  control-plane nodes ${c.controlPlaneNodes.join(", ") || "(none labelled)"}`,
    `  etcd members${c.etcd.healthy ? " (healthy)" : " (NOT healthy)"}:`,
    ...c.etcd.members.map(
      (m) =>
        `    ${m.name || "(not started)"} ${m.id}${m.isLearner ? " learner" : ""} peer ${m.peerUrls.join(",")}`,
    ),
    "  certificates:",
    ...c.certificates.map(
      (x) =>
        `    ${x.path.padEnd(28)} ${x.subject.padEnd(44)} until ${x.notAfter.slice(0, 10)}` +
        (x.dnsNames.length + x.ipAddresses.length
          ? `  SANs ${[...x.dnsNames, ...x.ipAddresses].join(",")}`
          : ""),
    ),
    "Hosts",
    ...r.hosts.map((h) =>
      [
        `  ${h.name.padEnd(12)} ${h.role.padEnd(12)} ${h.os ?? "?"}`,
        h.nginx
          ? `nginx ${h.nginx.version ?? "?"} (stream module: ${h.nginx.stream})${mergeNote(h)}`
          : `kubelet ${h.kubeletVersion ?? "missing"}, ${h.containerRuntime ?? "no runtime"}`,
        h.clockSkewMs !== undefined ? `clock ${h.clockSkewMs >= 0 ? "+" : ""}${h.clockSkewMs} ms` : "",
      ]
        .filter(Boolean)
        .join(", "),
    ),
  ];
  if (r.findings.length) {
    lines.push("Findings", ...formatFindings(r.findings));
  }
  const blocking = r.findings.filter((f) => f.severity === "error").length;
  lines.push(
    blocking
      ? `${plural(blocking, "blocking finding")}: kubeha will not change this cluster until they are fixed.`
      : "No blocking findings: the cluster can be converted.",
  );
  return lines.join("\n");
}

/** Where kubeha's servers go when nginx already has a stream {} block of its own. */
function mergeNote(h: DiscoveryResult["hosts"][number]): string {
  const b = h.nginx?.otherStreamBlocks?.[0];
  return b ? `; kubeha's upstream and server go inside its stream {} block (${b.file} line ${b.line})` : "";
}

function yes(b: boolean): string {
  return b ? "present" : "MISSING";
}
