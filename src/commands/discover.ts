import type { CommandContext } from "./context.js";
import { ExitCode } from "../errors.js";
import { discover } from "../discover/index.js";
import type { DiscoveryResult, Finding } from "../discover/types.js";
import { inventoryFrom, withHosts } from "./session.js";
import { withWorkers } from "./worker-hosts.js";
import { plural } from "../ui/plural.js";

/** `kubeha discover`: read the cluster and the hosts, change nothing, report. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const inv = await inventoryFrom(ctx);
  const hosts = [inv.primary, ...inv.masters, inv.loadBalancer.host];
  ctx.reporter.info(`discovering ${plural(hosts.length, "host")} from ${inv.path}`);
  const result = await withHosts(
    hosts,
    // Workers too: discovery reads who each is, so that no machine is entered twice.
    (byName) => withWorkers(inv.workers, byName, ctx.reporter, () => discover(inv, byName)),
    ctx.reporter,
  );
  if (ctx.values.output === "json") {
    const { manifests: _manifests, ...cluster } = result.cluster;
    ctx.reporter.result({ ...result, cluster });
  } else {
    ctx.reporter.print(formatDiscovery(result));
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
          ? `nginx ${h.nginx.version ?? "?"} (stream module: ${h.nginx.stream})`
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

function yes(b: boolean): string {
  return b ? "present" : "MISSING";
}
