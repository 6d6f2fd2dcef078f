import { posix } from "node:path";
import type { InventoryHost } from "../inventory/types.js";
import type { FileWrite, Host } from "../ssh/types.js";
import {
  nodeKeyAlgorithms,
  planNodePki,
  renderNodePki,
  sharedPki,
  type IssuePlanItem,
  type NodePkiInput,
} from "../pki/render.js";
import { CA_FILES, type CaName } from "../pki/specs.js";
import { serverUrl } from "../pki/kubeconfig.js";
import { checkKubeconfig, checkPair } from "../pki/check.js";
import type { CaMaterial } from "../pki/issue.js";
import type { FileChange, Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { KUBELET_FILES } from "../engine/material.js";
import { KubehaError } from "../errors.js";
import { KUBEADM_LAYOUT } from "../discover/layout.js";
import { kubeletFileFor } from "../render/kubelet-flags.js";
import { readyzProblem, servingNames, servingProblem } from "./serving.js";
import { plural } from "../ui/plural.js";

/** How long a running apiserver may take to pick up a re-issued certificate file. */
const SERVING_TIMEOUT_MS = 90_000;

export const KUBERNETES_DIR = KUBEADM_LAYOUT.root;

/** The inputs of a node's PKI: cluster facts, the LB, and the SANs the primary's certificate already has. */
export function nodePkiInput(
  ctx: StepContext,
  node: InventoryHost,
  cas: Record<CaName, CaMaterial>,
  only?: string[],
): NodePkiInput {
  const c = ctx.cluster;
  const lb = ctx.inventory.loadBalancer;
  const current = c.certificates.find((x) => x.path === "apiserver.crt");
  return {
    node: { name: node.name, address: node.address },
    cluster: {
      kubernetesVersion: c.kubernetesVersion,
      serviceCidr: c.serviceCidr,
      clusterDomain: c.clusterDomain,
      securePort: c.securePort,
    },
    loadBalancer: { address: lb.address, dnsName: lb.dnsName, port: lb.port },
    extraSans: ctx.inventory.options.extraSans,
    inheritedSans: current ? { dns: current.dnsNames, ips: current.ipAddresses } : undefined,
    otherNodes: ctx.masters
      .filter((m) => m.name !== node.name)
      .map((m) => ({ name: m.name, address: m.address })),
    // Every kubeconfig that goes through the LB uses the address clients use.
    servers: { endpoint: serverUrl(lb.address, lb.port), local: serverUrl(node.address, c.securePort) },
    cas,
    only,
    joins: node.name !== ctx.inventory.primary.name,
    newKey: (alg) => ctx.keys.take(alg, keyOwner(node, only)),
  };
}

/** Whose keys the pool makes ahead: this node's certificate step (all its files, or only some). */
function keyOwner(node: InventoryHost, only?: string[]): string {
  return only ? `${node.name}:${only.join(",")}` : node.name;
}

function absolute(rel: string): string {
  return posix.join(KUBERNETES_DIR, rel);
}

function describeItem(item: IssuePlanItem): string {
  const sans = [...item.sans.dns, ...item.sans.ips];
  const o = item.organizations.length ? `O=${item.organizations.join("+")}, ` : "";
  return `${o}CN=${item.commonName}, signed by ${item.ca}${sans.length ? `, SANs ${sans.join(",")}` : ""}${
    item.output.kind === "kubeconfig" ? `, server ${item.output.server}` : ""
  }`;
}

/** The plan's view of a node's PKI files: certificates by subject and SANs, keys by mode only. */
export function pkiFileChanges(host: string, items: IssuePlanItem[], shared: boolean): FileChange[] {
  const out: FileChange[] = [];
  if (shared) {
    for (const name of Object.keys(CA_FILES) as CaName[]) {
      out.push({
        host,
        path: absolute(`pki/${CA_FILES[name].cert}`),
        mode: 0o644,
        secret: false,
        after: `copy of the primary's ${name} certificate`,
      });
      out.push({
        host,
        path: absolute(`pki/${CA_FILES[name].key}`),
        mode: 0o600,
        secret: true,
        after: `copy of the primary's ${name} key`,
      });
    }
    out.push({
      host,
      path: absolute("pki/sa.key"),
      mode: 0o600,
      secret: true,
      after: "copy of the primary's service-account key",
    });
    out.push({
      host,
      path: absolute("pki/sa.pub"),
      mode: 0o644,
      secret: false,
      after: "copy of the primary's service-account public key",
    });
  }
  for (const item of items) {
    if (item.output.kind === "pair") {
      out.push({
        host,
        path: absolute(`pki/${item.output.baseName}.crt`),
        mode: 0o644,
        secret: false,
        after: describeItem(item),
      });
      out.push({
        host,
        path: absolute(`pki/${item.output.baseName}.key`),
        mode: 0o600,
        secret: true,
        after: "new private key",
      });
    } else {
      out.push({
        host,
        path: absolute(item.output.file),
        mode: 0o600,
        secret: true,
        after: `kubeconfig: ${describeItem(item)}`,
      });
    }
  }
  return out;
}

async function readMany(host: Host, paths: string[]): Promise<Map<string, string | undefined>> {
  const files = await host.readFiles(paths);
  return new Map(paths.map((p) => [p, files.get(p)?.toString("utf8")]));
}

/**
 * Which of a node's PKI files must be (re)written: missing, issued by another CA, lacking a SAN,
 * key not matching, or a kubeconfig pointing elsewhere. Empty when the node's PKI is complete.
 */
export async function stalePkiFiles(
  ctx: StepContext,
  node: InventoryHost,
  only?: string[],
  withShared = true,
): Promise<{ stale: string[]; problems: string[]; warnings: string[] }> {
  const m = await ctx.material();
  const items = planNodePki(nodePkiInput(ctx, node, m.cas, only));
  const host = ctx.host(node.name);
  const shared = withShared ? sharedPki(m) : new Map();
  const paths = [
    ...[...shared.keys()].map(absolute),
    ...items.flatMap((i) =>
      i.output.kind === "pair"
        ? [absolute(`pki/${i.output.baseName}.crt`), absolute(`pki/${i.output.baseName}.key`)]
        : [absolute(i.output.file)],
    ),
  ];
  const files = await readMany(host, paths);
  const stale: string[] = [];
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const [rel, f] of shared) {
    if (files.get(absolute(rel)) !== f.content) {
      stale.push(rel);
      problems.push(
        `${rel}: ${files.get(absolute(rel)) === undefined ? "missing" : "differs from the primary's"}`,
      );
    }
  }
  for (const i of items) {
    const caPem = m.cas[i.ca].certPem;
    if (i.output.kind === "pair") {
      const crt = `pki/${i.output.baseName}.crt`;
      const key = `pki/${i.output.baseName}.key`;
      const r = checkPair(crt, files.get(absolute(crt)), files.get(absolute(key)), caPem, i.sans);
      warnings.push(...r.warnings);
      if (r.problems.length) {
        stale.push(crt, key);
        problems.push(...r.problems);
      }
    } else {
      const r = checkKubeconfig(i.output.file, files.get(absolute(i.output.file)), caPem, i.output.server);
      warnings.push(...r.warnings);
      if (r.problems.length) {
        stale.push(i.output.file);
        problems.push(...r.problems);
      }
    }
  }
  return { stale, problems, warnings };
}

/** The shared files and `node`'s own (only those named in `only`, when given), freshly rendered. */
async function renderedPki(ctx: StepContext, node: InventoryHost, only?: string[]) {
  const m = await ctx.material();
  return new Map([...sharedPki(m), ...(await renderNodePki(nodePkiInput(ctx, node, m.cas, only)))]);
}

/** Writes the given relative paths of a freshly rendered set (keys 0600), keeping backups of what they replace. */
export async function writePki(
  ctx: StepContext,
  node: InventoryHost,
  stale: string[],
  only?: string[],
): Promise<void> {
  // All at once, one command installing them: nothing reads them until the step is done.
  await ctx.host(node.name).writeFiles(pkiWrites(await renderedPki(ctx, node, only), stale));
}

function pkiWrites(
  rendered: Map<string, { content: string | Buffer; mode: number }>,
  stale: string[],
): FileWrite[] {
  return stale.map((rel) => {
    const f = rendered.get(rel);
    if (!f) throw new Error(`internal: nothing rendered for ${rel}`);
    return { path: absolute(rel), data: f.content, options: { mode: f.mode, backup: true } };
  });
}

/** etcd's own certificates (the peer-URL fix on the primary rewrites only these two). */
export const ETCD_SERVING_CERTS = ["etcd-server", "etcd-peer"];

/**
 * What a new master's etcd member needs before it can start: the shared keys, etcd's certificates,
 * and the kubelet (its kubeconfig and settings) that runs the member's static pod.
 */
const ETCD_FIRST = [...ETCD_SERVING_CERTS, "etcd-healthcheck-client", "kubelet.conf"];

/**
 * A new master's PKI in two steps, so that its etcd member starts on the first while the second's
 * keys are still being made (etcd lets the next member join only ~5 s after this one started):
 * - `pki/<node>/etcd`: the shared CAs and keys, etcd's certificates, the kubelet's kubeconfig and
 *   settings, the kubelet started;
 * - `pki/<node>`: the apiserver's certificates and the other kubeconfigs.
 */
export async function newMasterPkiSteps(
  ctx: StepContext,
  node: InventoryHost,
): Promise<{ etcd: Step; rest: Step }> {
  const m = await ctx.material();
  const rest = planNodePki(nodePkiInput(ctx, node, m.cas))
    .map((i) => i.id)
    .filter((id) => !ETCD_FIRST.includes(id));
  return { etcd: etcdFirstStep(ctx, node), rest: pkiPartStep(ctx, node, rest) };
}

/** Asks the key pool for `node`'s keys of the certificates in `only`, when some of them are stale. */
async function fillKeys(
  c: StepContext,
  node: InventoryHost,
  only: string[],
  withShared: boolean,
): Promise<void> {
  if ((await stalePkiFiles(c, node, only, withShared)).stale.length === 0) return;
  const m = await c.material();
  for (const alg of nodeKeyAlgorithms(nodePkiInput(c, node, m.cas, only)))
    c.keys.fill(alg, 1, keyOwner(node, only));
}

function etcdFirstStep(ctx: StepContext, node: InventoryHost): Step {
  const primary = ctx.inventory.primary;
  const only = ETCD_FIRST;
  return {
    id: `pki/${node.name}/etcd`,
    phase: "pki",
    host: node.name,
    title: `shared CAs, etcd's certificates and the kubelet's files for ${node.name}`,
    why: "its etcd member starts on these (the sooner it starts, the sooner etcd lets the next one join); the CAs are copied, never regenerated; each master gets its own leaf certificates",
    // Every file and the kubelet restart are the step's effects, recorded from `run` itself.
    files: [],
    details: [`the kubelet is restarted on ${node.name} so that it runs the static pods written next`],
    rollback: `remove /etc/kubernetes/pki and /etc/kubernetes/kubelet.conf on ${node.name} (nothing runs from them yet)`,
    isDone: async (c) =>
      (await stalePkiFiles(c, node, only)).stale.length === 0 &&
      (await kubeletFilesMissing(c, node)).length === 0,
    // The keys are the CPU-heavy part of this step: made ahead, in the graph's order.
    prepare: (c) => fillKeys(c, node, only, true),
    run: async (c) => {
      const { stale } = await stalePkiFiles(c, node, only);
      const mat = await c.material();
      const host = c.host(node.name);
      const missing = await kubeletFilesMissing(c, node);
      // The certificates, the kubelet's kubeconfig and settings in one go.
      const rendered = stale.length ? await renderedPki(c, node, only) : new Map();
      await host.writeFiles([
        ...pkiWrites(rendered, stale),
        ...missing.map((path) => ({
          path,
          data: kubeletFileFor(mat.kubelet.get(path)!, primary, node),
          options: { mode: 0o644 },
        })),
      ]);
      // A kubelet installed but never configured is waiting for exactly these files: start it now,
      // so that it runs the static pods the next steps write.
      if (missing.length || stale.includes("kubelet.conf")) {
        const restart = await host.exec(["systemctl", "restart", "kubelet"], { changes: true });
        if (restart.code !== 0) {
          c.reporter.warn(
            `${node.name}: systemctl restart kubelet failed (${restart.stderr.trim()}); the kubelet must be running for the next steps`,
          );
        }
      }
    },
    verify: async (c) => {
      const { problems } = await stalePkiFiles(c, node, only);
      const missing = await kubeletFilesMissing(c, node);
      if (missing.length) problems.push(`missing ${missing.join(", ")}`);
      if (problems.length)
        throw new KubehaError(`${node.name}: PKI incomplete after writing: ${problems.join("; ")}`);
      return "shared CAs and keys, etcd's certificates, the kubelet's kubeconfig and settings in place";
    },
  };
}

/** `node`'s certificates and kubeconfigs named in `only` (the shared files are the etcd step's). */
function pkiPartStep(ctx: StepContext, node: InventoryHost, only: string[]): Step {
  return {
    id: `pki/${node.name}`,
    phase: "pki",
    host: node.name,
    title: `certificates and kubeconfigs for ${node.name}`,
    why: "each master needs its own leaf certificates (an apiserver serving a copy of another node's certificate fails with x509 errors) signed by the cluster's CAs",
    files: [],
    details: [],
    rollback: `remove them from /etc/kubernetes/pki and /etc/kubernetes/*.conf on ${node.name} (nothing runs from them yet)`,
    isDone: async (c) => (await stalePkiFiles(c, node, only, false)).stale.length === 0,
    prepare: (c) => fillKeys(c, node, only, false),
    run: async (c) => {
      const { stale } = await stalePkiFiles(c, node, only, false);
      if (stale.length) await writePki(c, node, stale, only);
    },
    verify: async (c) => {
      const { problems } = await stalePkiFiles(c, node, only, false);
      if (problems.length)
        throw new KubehaError(`${node.name}: PKI incomplete after writing: ${problems.join("; ")}`);
      return "its own certificates and kubeconfigs in place";
    },
  };
}

/**
 * `kubeha certs render --push`: one master's whole PKI (the shared files and its own) written to it,
 * each replaced file kept beside it; only what is missing or invalid unless `force`. A step, so that
 * what the command shows first is what its run then writes.
 */
export function certsPushStep(ctx: StepContext, node: InventoryHost, force: boolean): Step {
  return {
    id: `certs/${node.name}`,
    phase: "pki",
    host: node.name,
    title: `${force ? "re-issue" : "complete"} the certificates and kubeconfigs of ${node.name}`,
    why: force
      ? "--force: every certificate and kubeconfig issued again from the cluster's CAs"
      : "a certificate that is valid for this node and the LB is kept; what is missing or invalid is issued from the cluster's CAs",
    files: [],
    details: [],
    rollback: `put back the .kubeha-<time>.bak files next to what was written on ${node.name}`,
    isDone: async (c) => !force && (await stalePkiFiles(c, node)).stale.length === 0,
    run: async (c) => {
      const stale = force ? undefined : (await stalePkiFiles(c, node)).stale;
      if (stale?.length === 0) {
        c.reporter.info("every file is already there and valid: nothing written (use --force to re-issue)");
        return;
      }
      // Keys are made only when something is written.
      const rendered = await renderedPki(c, node);
      const write = stale ?? [...rendered.keys()];
      await c.host(node.name).writeFiles(pkiWrites(rendered, write));
      for (const rel of write) c.reporter.info(`wrote ${node.name}:${absolute(rel)}`);
      const kept = rendered.size - write.length;
      if (kept) c.reporter.info(`kept ${plural(kept, "valid file")} (use --force to re-issue them)`);
    },
    verify: async (c) => {
      const { problems } = await stalePkiFiles(c, node);
      if (problems.length) throw new KubehaError(`${node.name}: ${problems.join("; ")}`);
      return "its certificates and kubeconfigs complete and valid";
    },
  };
}

async function kubeletFilesMissing(ctx: StepContext, node: InventoryHost): Promise<string[]> {
  const m = await ctx.material();
  const host = ctx.host(node.name);
  const present = await Promise.all(
    KUBELET_FILES.map(async (path) => !m.kubelet.has(path) || (await host.readFile(path)) !== undefined),
  );
  return KUBELET_FILES.filter((_, i) => !present[i]);
}

/**
 * Re-issue the primary's apiserver certificate so that it also covers the load balancer's address and
 * name (clients reaching it through the LB check those). The apiserver reloads its serving certificate
 * when the file changes.
 */
export function primaryApiserverCertStep(ctx: StepContext): Step {
  const node = ctx.inventory.primary;
  return {
    id: `pki/${node.name}/apiserver`,
    phase: "pki",
    host: node.name,
    title: `re-issue ${node.name}'s apiserver certificate with the load balancer's names`,
    why: "clients will reach this apiserver through the load balancer and check its certificate for the LB's address and name",
    files: [],
    details: [],
    rollback: `restore /etc/kubernetes/pki/apiserver.{crt,key} on ${node.name} from the .bak files next to them`,
    isDone: async (c) => (await stalePkiFiles(c, node, ["apiserver"], false)).stale.length === 0,
    prepare: (c) => fillKeys(c, node, ["apiserver"], false),
    run: async (c) => {
      const { stale } = await stalePkiFiles(c, node, ["apiserver"], false);
      if (stale.length) await writePki(c, node, stale, ["apiserver"]);
      // The apiserver reloads the files by itself; the step is done when it serves the new certificate.
      let last: string | undefined;
      await c.until(
        async () => (last = (await readyzProblem(c, node)) ?? (await servingProblem(c, node))) === undefined,
        {
          timeoutMs: SERVING_TIMEOUT_MS,
          what: `${node.name}'s apiserver to serve it`,
          lastError: () => last ?? "",
        },
        node.name,
      );
    },
    verify: async (c) => {
      const { problems } = await stalePkiFiles(c, node, ["apiserver"], false);
      const served = (await readyzProblem(c, node)) ?? (await servingProblem(c, node));
      if (served) problems.push(served);
      if (problems.length) throw new KubehaError(`${node.name}: ${problems.join("; ")}`);
      return `ready; serving certificate valid for ${servingNames(c, node).valid.join(", ")}`;
    },
  };
}
