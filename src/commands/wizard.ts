import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { confirm, input, number, select } from "@inquirer/prompts";
import type { CommandContext } from "./context.js";
import { ExitCode, InputError, KubehaError } from "../errors.js";
import { discoverCluster, probeHost } from "../discover/index.js";
import { manifestFacts, readManifests } from "../discover/primary.js";
import { clusterFindings, loadBalancerFindings, masterFindings } from "../discover/rules.js";
import { memberAt } from "../etcd/members.js";
import { etcdPeerURL } from "../render/control-plane.js";
import type { ClusterFacts, Finding, HostFacts } from "../discover/types.js";
import { formatProblem, localFileState, parseInventory } from "../inventory/index.js";
import { defaults } from "../inventory/normalise.js";
import { resolvePath } from "../inventory/paths.js";
import type { HostRole, Inventory, InventoryHost } from "../inventory/types.js";
import { SshHost } from "../ssh/host.js";
import type { Reporter } from "../ui/reporter.js";
import {
  defaultIdentityFile,
  effectiveSsh,
  pathForInventory,
  probeHostOf,
  sshOverride,
  sudoFor,
  suggestName,
  type HostAnswer,
  type LoadBalancerAnswer,
  type PathBase,
  type SshAnswers,
  type WizardAnswers,
} from "../wizard/answers.js";
import { renderInventory, type RenderNotes } from "../wizard/render.js";
import {
  addressAnswer,
  clientAddressAnswer,
  dnsNameAnswer,
  identityFileAnswer,
  knownHostsAnswer,
  nodeNameAnswer,
  outputPathAnswer,
  probeFault,
  userAnswer,
  type Check,
  type ProbeFault,
} from "../wizard/validate.js";

/** Probes at the question must fail fast: an address nobody answers on is refused within seconds. */
const PROBE_CONNECT_TIMEOUT_SECONDS = 5;
/** Reading the API and etcd through the primary; a cluster that does not answer is reported, not waited for. */
const DISCOVERY_TIMEOUT_MS = 45_000;
const DEFAULT_OUTPUT = "./kubeha-inventory.yaml";

/** Ctrl-C while the wizard is working between questions (probing, planning). */
class Cancelled extends Error {
  constructor() {
    super("cancelled");
    this.name = "Cancelled";
  }
}

/** Inquirer throws ExitPromptError for Ctrl-C at a question; our own SIGINT handler aborts the rest. */
function isCancel(err: unknown): boolean {
  return (
    err instanceof Cancelled ||
    (err instanceof Error && (err.name === "ExitPromptError" || err.name === "AbortPromptError"))
  );
}

/**
 * Ctrl-C between questions (the terminal is not in raw mode then, so it is a SIGINT): aborts whatever
 * the wizard is waiting for, so it can say that nothing was changed instead of dying mid-line.
 */
class Interrupt {
  private readonly controller = new AbortController();
  private readonly onSigint = (): void => this.controller.abort();

  constructor() {
    process.on("SIGINT", this.onSigint);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(new Cancelled());
    return new Promise<T>((resolvePromise, reject) => {
      const onAbort = (): void => reject(new Cancelled());
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolvePromise, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  dispose(): void {
    process.off("SIGINT", this.onSigint);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KubehaError(`${what}: no answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * kubeha needs root on every host: a login that works but cannot become root (a user without sudo, or
 * sudo refusing) is caught with the login, not as a probe that silently found nothing.
 */
async function checkRoot(host: SshHost, h: InventoryHost): Promise<void> {
  const r = await host.exec(["id", "-u"]);
  if (r.code === 0 && r.stdout.trim() === "0") return;
  const how = h.ssh.sudo ? `user ${h.ssh.user} with sudo -n` : `user ${h.ssh.user} without sudo`;
  const said = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("Could not chdir"))
    .join("; ")
    .slice(0, 200);
  const why = said || `id -u printed ${r.stdout.trim() || "nothing"}`;
  throw new KubehaError(
    `host ${h.name} (${h.address}): ${how} does not get root (${why}); kubeha needs root: log in as root or as a user with passwordless sudo`,
  );
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/**
 * The inventory of the probe of the primary alone: discovery reads only `primary` from it. The masters
 * and the load balancer are not known yet when the primary is probed.
 */
function primaryOnly(primary: InventoryHost): Inventory {
  return {
    path: "(wizard)",
    primary,
    masters: [],
    loadBalancer: { host: primary, address: primary.address, port: 6443 },
    workers: [],
    options: {
      extraSans: [],
      workerConcurrency: defaults.workerConcurrency,
      etcdLearnerTimeoutSeconds: defaults.etcdLearnerTimeoutSeconds,
      stateDir: ".",
    },
  };
}

/** The questions, in order, with every answer checked as given and every host probed at once. */
class Wizard {
  private readonly base: PathBase = { cwd: process.cwd(), home: homedir() };
  /** name → what it names, address → whose it is: for refusing duplicates at the question. */
  private readonly names = new Map<string, string>();
  private readonly addresses = new Map<string, string>();
  private cluster: ClusterFacts | undefined;
  readonly notes: RenderNotes = {};

  constructor(
    private readonly r: Reporter,
    private readonly interrupt: Interrupt,
  ) {}

  async collect(): Promise<WizardAnswers> {
    const { primary, ssh } = await this.askPrimary();
    const masters = await this.askMasters(ssh, primary.name);
    const loadBalancer = await this.askLoadBalancer(ssh);
    const workers = await this.askWorkers(ssh);
    return { ssh, primary, masters, loadBalancer, workers };
  }

  // ---- prompts -------------------------------------------------------------------------------

  private async text(
    msg: string,
    opts: { default?: string; validate?: (v: string) => Check } = {},
  ): Promise<string> {
    const value = await input(
      {
        message: msg,
        ...(opts.default !== undefined && opts.default !== "" && { default: opts.default }),
        ...(opts.validate && { validate: opts.validate }),
      },
      { signal: this.interrupt.signal },
    );
    return value.trim();
  }

  private yesNo(msg: string, def: boolean): Promise<boolean> {
    return confirm({ message: msg, default: def }, { signal: this.interrupt.signal });
  }

  private port(def: number): Promise<number> {
    return number(
      { message: "SSH port:", default: def, min: 1, max: 65535, step: 1, required: true },
      { signal: this.interrupt.signal },
    );
  }

  private path(typed: string): string {
    return resolvePath(typed.trim(), this.base.cwd, this.base.home);
  }

  // ---- SSH settings --------------------------------------------------------------------------

  /** The primary's SSH settings, all of them or those a failed probe called into question. */
  private async askSharedSsh(prev: SshAnswers | undefined, fault: ProbeFault | "all"): Promise<SshAnswers> {
    const base = this.base;
    let s: SshAnswers = prev ?? {
      user: "root",
      port: 22,
      identityFile: defaultIdentityFile(base.home),
      sudo: false,
      knownHostsFile: "~/.ssh/known_hosts",
      acceptNewHostKeys: false,
    };
    if (fault === "all" || fault === "credentials") {
      s = { ...s, ...(await this.askLogin(s, "the primary")) };
    }
    if (fault === "all") s = { ...s, port: await this.port(s.port) };
    if (fault === "all" || fault === "hostKey") s = { ...s, ...(await this.askHostKeys(s)) };
    return s;
  }

  /** User, key and sudo. A user other than root needs passwordless sudo: kubeha needs root everywhere. */
  private async askLogin(
    s: SshAnswers,
    where: string,
  ): Promise<Pick<SshAnswers, "user" | "identityFile" | "sudo">> {
    for (;;) {
      const user = await this.text(`SSH user on ${where}:`, { default: s.user, validate: userAnswer });
      const typed = await this.text("SSH private key (identity file):", {
        default: s.identityFile,
        validate: (v) => identityFileAnswer(v, this.path(v), localFileState(this.path(v))),
      });
      if (user === "root") return { user, identityFile: pathForInventory(typed, this.base), sudo: false };
      const sudo = await this.yesNo(
        `${user} is not root: use passwordless sudo (sudo -n) for privileged commands?`,
        true,
      );
      if (sudo) return { user, identityFile: pathForInventory(typed, this.base), sudo };
      this.r.error(`kubeha needs root on ${where}: connect as root, or as a user with passwordless sudo`);
    }
  }

  private async askHostKeys(
    s: SshAnswers,
  ): Promise<Pick<SshAnswers, "knownHostsFile" | "acceptNewHostKeys">> {
    const typed = await this.text("known_hosts file to check host keys against:", {
      default: s.knownHostsFile,
      validate: (v) => knownHostsAnswer(v, this.path(v), localFileState(this.path(v))),
    });
    const acceptNewHostKeys = await this.yesNo(
      "Accept and record host keys not yet in it (a changed key is always refused)?",
      s.acceptNewHostKeys,
    );
    return { knownHostsFile: pathForInventory(typed, this.base), acceptNewHostKeys };
  }

  /** Settings of a host other than the primary: asked again only for what its probe found wrong. */
  private async askOwnSsh(
    shared: SshAnswers,
    own: SshAnswers,
    name: string,
    fault: ProbeFault | "user",
  ): Promise<SshAnswers> {
    if (fault === "user") {
      const user = await this.text(`SSH user on ${name}:`, { default: own.user, validate: userAnswer });
      return { ...own, user, sudo: sudoFor(user, shared) };
    }
    if (fault === "credentials") return { ...own, ...(await this.askLogin(own, name)) };
    if (fault === "hostKey") return { ...own, ...(await this.askHostKeys(own)) };
    return own;
  }

  // ---- the primary ---------------------------------------------------------------------------

  private async askPrimary(): Promise<{ primary: HostAnswer; ssh: SshAnswers }> {
    this.r.info(
      "The existing control-plane node (the primary), made by `kubeadm init`: how to reach it over SSH.",
    );
    let address = await this.text("Address of the primary (IP or host name):", {
      validate: (v) => addressAnswer(v),
    });
    let ssh = await this.askSharedSsh(undefined, "all");
    for (;;) {
      try {
        const found = await this.interrupt.race(this.probePrimary(address, ssh));
        this.cluster = found.cluster;
        this.showCluster(address, found);
        await this.checkClusterFindings();
        const name = await this.text("Kubernetes node name of the primary:", {
          default: found.nodeName,
          validate: (v) => nodeNameAnswer(v, new Map(), found.members),
        });
        this.names.set(name, `${name} (the primary)`);
        this.addresses.set(address, `${name} (the primary)`);
        return { primary: { name, address }, ssh };
      } catch (err) {
        if (isCancel(err)) throw err;
        this.r.error(message(err));
        const fault = probeFault(message(err));
        if (fault === "address" || fault === "host") {
          address = await this.text("Address of the primary (IP or host name):", {
            default: address,
            validate: (v) => addressAnswer(v),
          });
          // Refused: sshd may listen elsewhere.
          if (/connection refused/.test(message(err))) ssh = { ...ssh, port: await this.port(ssh.port) };
        } else {
          ssh = await this.askSharedSsh(ssh, fault);
        }
      }
    }
  }

  /** Connects, reads the static pod manifests, then the cluster through its API and etcd. */
  private async probePrimary(
    address: string,
    ssh: SshAnswers,
  ): Promise<{
    cluster?: ClusterFacts;
    version: string;
    serviceCidr: string;
    hostname: string;
    nodeName: string;
    members: string[];
    problem?: string;
  }> {
    const h = probeHostOf(
      { name: "primary", address },
      "primary",
      ssh,
      this.base,
      PROBE_CONNECT_TIMEOUT_SECONDS,
    );
    this.r.info(`connecting to ${ssh.user}@${address}:${ssh.port} ...`);
    const host = await SshHost.connect(h);
    try {
      await checkRoot(host, h);
      const { parsed } = await readManifests(host);
      const m = manifestFacts(h, parsed);
      const hostname = (await host.run("hostname")).trim();
      this.r.info(
        `connected; found kubeadm's static pod manifests (Kubernetes ${m.kubernetesVersion}); reading the cluster ...`,
      );
      try {
        const cluster = await withTimeout(
          discoverCluster(primaryOnly(h), host),
          DISCOVERY_TIMEOUT_MS,
          `${address}: reading the cluster`,
        );
        const members = cluster.etcd.members.map((x) => x.name).filter(Boolean);
        const byPeer = memberAt(cluster.etcd.members, etcdPeerURL(address))?.name;
        return {
          cluster,
          version: cluster.kubernetesVersion,
          serviceCidr: cluster.serviceCidr,
          hostname,
          nodeName: byPeer || (members.includes(hostname) ? hostname : (members[0] ?? hostname)),
          members,
        };
      } catch (err) {
        return {
          version: m.kubernetesVersion,
          serviceCidr: m.serviceCidr,
          hostname,
          nodeName: hostname,
          members: [],
          problem: message(err),
        };
      }
    } finally {
      await host.close();
    }
  }

  private showCluster(
    address: string,
    f: { cluster?: ClusterFacts; version: string; serviceCidr: string; hostname: string; problem?: string },
  ): void {
    const c = f.cluster;
    const lines = [
      `Found on ${address} (hostname ${f.hostname}):`,
      `  Kubernetes      ${f.version}`,
      `  service CIDR    ${f.serviceCidr}`,
    ];
    if (c) {
      lines.push(
        `  apiserver       ${c.advertiseAddress}:${c.securePort}`,
        `  cluster domain  ${c.clusterDomain}`,
        `  etcd members    ${c.etcd.members
          .map(
            (x) => `${x.name || "(not started)"}${x.isLearner ? " (learner)" : ""} ${x.peerUrls.join(",")}`,
          )
          .join("; ")}${c.etcd.healthy ? " (healthy)" : " (NOT healthy)"}`,
        `  control plane   ${c.controlPlaneNodes.join(", ") || "(no node labelled)"}`,
      );
      this.notes.etcdMembers = c.etcd.members.map((x) => x.name).filter(Boolean);
    }
    this.notes.kubernetesVersion = f.version;
    this.notes.serviceCidr = f.serviceCidr;
    this.r.print(lines.join("\n"));
    if (f.problem) {
      this.r.warn(`could not read the cluster through its API and etcd: ${f.problem}`);
      this.r.warn("going on with what the manifests say; `plan` will need the API and etcd to answer");
    }
  }

  /** A cluster kubeha would refuse (too old, old etcd layout, ...) is said so now, not after every question. */
  private async checkClusterFindings(): Promise<void> {
    if (!this.cluster) return;
    const findings = clusterFindings(this.cluster);
    this.showFindings(findings);
    if (findings.some((x) => x.severity === "error")) {
      const go = await this.yesNo(
        "kubeha will refuse this cluster until that is fixed. Write an inventory anyway?",
        false,
      );
      if (!go)
        throw new InputError("wizard stopped: the cluster cannot be converted as it is; nothing was changed");
    }
  }

  private showFindings(findings: Finding[]): void {
    for (const x of findings) {
      const text = `${x.host}: ${x.message}${x.fix ? ` (fix: ${x.fix})` : ""}`;
      if (x.severity === "error") this.r.error(text);
      else this.r.warn(text);
    }
  }

  // ---- masters, load balancer, workers -------------------------------------------------------

  private async askMasters(shared: SshAnswers, primaryName: string): Promise<HostAnswer[]> {
    const count = await select(
      {
        message: "How many new control-plane hosts (masters)?",
        choices: [
          { name: "2 (3 control-plane nodes in all)", value: 2 },
          { name: "4 (5 in all)", value: 4 },
          { name: "6 (7 in all)", value: 6 },
        ],
        default: 2,
      },
      { signal: this.interrupt.signal },
    );
    const out: HostAnswer[] = [];
    for (let i = 0; i < count; i++) {
      out.push(
        await this.askHost(
          shared,
          "master",
          `new master ${i + 1} of ${count}`,
          suggestName(primaryName, i + 1),
        ),
      );
    }
    return out;
  }

  private async askLoadBalancer(shared: SshAnswers): Promise<LoadBalancerAnswer> {
    this.r.info("The load balancer: nginx on its own host, in front of every apiserver.");
    let facts: HostFacts | undefined;
    const host = await this.askHost(
      shared,
      "loadBalancer",
      "the load balancer host",
      "lb",
      (f) => (facts = f),
    );
    const masters = new Map([...this.addresses].filter(([, who]) => !who.includes("load balancer")));
    const clientAddress = await this.text("Address clients use for the API:", {
      default: host.address,
      validate: (v) => (v.trim() === host.address ? true : clientAddressAnswer(v, masters)),
    });
    const dnsName = await this.text("DNS name for the API (optional, goes into every certificate):", {
      validate: dnsNameAnswer,
    });
    const port = await number(
      {
        message: "Port clients connect to on the load balancer:",
        default: 6443,
        min: 1,
        max: 65535,
        step: 1,
        required: true,
      },
      { signal: this.interrupt.signal },
    );
    if (facts) this.showFindings(loadBalancerFindings(facts, port));
    return { ...host, clientAddress, ...(dnsName && { dnsName }), port };
  }

  private async askWorkers(shared: SshAnswers): Promise<HostAnswer[]> {
    const out: HostAnswer[] = [];
    let more = await this.yesNo(
      "Add workers? (each one's kubelet.conf is pointed at the load balancer; one left out keeps using the primary)",
      false,
    );
    while (more) {
      out.push(await this.askHost(shared, "worker", `worker ${out.length + 1}`, `worker-${out.length + 1}`));
      more = await this.yesNo("Add another worker?", false);
    }
    return out;
  }

  /** Name, address and SSH user of one host, then a probe over SSH; a failed probe asks again. */
  private async askHost(
    shared: SshAnswers,
    role: HostRole,
    what: string,
    suggested: string,
    onFacts?: (facts: HostFacts) => void,
  ): Promise<HostAnswer> {
    const label =
      role === "loadBalancer" ? "the load balancer" : role === "worker" ? "a worker" : "a new master";
    const name = await this.text(`Node name of ${what}:`, {
      default: this.names.has(suggested) ? undefined : suggested,
      validate: (v) => nodeNameAnswer(v, this.names),
    });
    let address = await this.text(`Address of ${name}:`, {
      validate: (v) => addressAnswer(v, this.addresses),
    });
    let own = await this.askOwnSsh(shared, shared, name, "user");
    for (;;) {
      const answer: HostAnswer = { name, address, ssh: sshOverride(shared, own) };
      try {
        const facts = await this.interrupt.race(this.probe(answer, role, shared));
        if (await this.reviewFacts(facts)) {
          this.names.set(name, `${name} (${label})`);
          this.addresses.set(address, `${name} (${label})`);
          onFacts?.(facts);
          return answer.ssh ? answer : { name, address };
        }
        address = await this.text(`Address of ${name}:`, {
          default: address,
          validate: (v) => addressAnswer(v, this.addresses),
        });
        own = await this.askOwnSsh(shared, own, name, "user");
      } catch (err) {
        if (isCancel(err)) throw err;
        this.r.error(message(err));
        const fault = probeFault(message(err));
        if (fault === "address" || fault === "host") {
          address = await this.text(`Address of ${name}:`, {
            default: address,
            validate: (v) => addressAnswer(v, this.addresses),
          });
        } else {
          own = await this.askOwnSsh(shared, effectiveSsh(shared, answer.ssh), name, fault);
        }
      }
    }
  }

  private async probe(answer: HostAnswer, role: HostRole, shared: SshAnswers): Promise<HostFacts> {
    const h = probeHostOf(answer, role, shared, this.base, PROBE_CONNECT_TIMEOUT_SECONDS);
    this.r.info(`connecting to ${h.ssh.user}@${h.address}:${h.ssh.port} ...`);
    const host = await SshHost.connect(h);
    try {
      await checkRoot(host, h);
      const { facts } = await probeHost(h, host);
      return facts;
    } finally {
      await host.close();
    }
  }

  /** Says what the probe found; a host that plan would refuse may be kept (to fix later) or replaced. */
  private async reviewFacts(f: HostFacts): Promise<boolean> {
    const what =
      f.role === "loadBalancer"
        ? f.nginx
          ? `nginx ${f.nginx.version ?? "?"} (stream module: ${f.nginx.stream})`
          : "no nginx"
        : `kubelet ${f.kubeletVersion ?? "missing"}, ${f.containerRuntime ?? "no container runtime"}`;
    this.r.info(`✓ ${f.name}: ${f.os ?? "unknown OS"}, ${what}`);
    if (f.role !== "master" || !this.cluster) return true;
    const findings = masterFindings(f, this.cluster);
    this.showFindings(findings);
    if (!findings.some((x) => x.severity === "error")) return true;
    return this.yesNo(
      `Keep ${f.name} anyway? (plan will refuse it until that is fixed; no: give another address)`,
      true,
    );
  }
}

/** Asks where to write the inventory; an existing file is only replaced when the operator says so. */
async function askOutput(signal: AbortSignal, def: string): Promise<string> {
  for (;;) {
    const typed = await input(
      { message: "Write the inventory to:", default: def, validate: outputPathAnswer },
      { signal },
    );
    const path = resolve(typed.trim());
    if (!existsSync(path)) return path;
    if (await confirm({ message: `${path} exists. Overwrite it?`, default: false }, { signal })) return path;
  }
}

/**
 * `kubeha wizard`: asks for the hosts, probing each at once, writes a commented inventory, runs plan on
 * it and asks before apply. Ctrl-C before apply changes nothing (exit 2); apply itself is resumable.
 */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const r = ctx.reporter;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new InputError(
      "kubeha wizard asks questions and needs a terminal; for automation write an inventory (see inventory/example.yaml) and run `kubeha plan -i FILE`",
    );
  }
  const interrupt = new Interrupt();
  let written: string | undefined;
  try {
    r.info(
      "kubeha wizard: a few questions, each host checked over SSH as soon as it is named. Nothing is changed until you say so; Ctrl-C leaves everything as it is.",
    );
    const wizard = new Wizard(r, interrupt);
    const answers = await wizard.collect();
    const given = ctx.values.inventory;
    const path = await askOutput(interrupt.signal, typeof given === "string" ? given : DEFAULT_OUTPUT);
    const text = renderInventory(answers, {
      ...wizard.notes,
      writtenAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    });
    const parsed = parseInventory(text, path);
    for (const w of parsed.warnings) r.warn(formatProblem(path, w));
    if ("errors" in parsed) {
      throw new KubehaError(
        `internal: the wizard's inventory does not validate:\n${parsed.errors.map((p) => formatProblem(path, p)).join("\n")}`,
      );
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text, { mode: 0o644 });
    written = path;
    r.info(`inventory written to ${path}; now the plan (reads the cluster, changes nothing) ...`);

    const plan = await import("./plan.js");
    const values = { ...ctx.values, inventory: path };
    const planned = await interrupt.race(plan.run({ ...ctx, command: "plan", values }));
    if (planned !== ExitCode.ok) return planned;
    const go = await confirm(
      { message: "Apply this plan now?", default: false },
      { signal: interrupt.signal },
    );
    if (!go) {
      r.info(`not applied; nothing was changed. To apply later: kubeha apply -i ${path}`);
      return ExitCode.ok;
    }
    interrupt.dispose();
    // From here Ctrl-C is apply's: it stops after the running step and says how to resume (exit 3).
    const apply = await import("./apply.js");
    return await apply.run({ ...ctx, command: "apply", values: { ...values, yes: true } });
  } catch (err) {
    if (isCancel(err)) {
      r.error(
        written
          ? `wizard cancelled: the cluster was not changed; the inventory is in ${written}`
          : "wizard cancelled: nothing was changed",
      );
      return ExitCode.badInput;
    }
    if (written) r.info(`the inventory is in ${written}; once that is fixed: kubeha plan -i ${written}`);
    throw err;
  } finally {
    interrupt.dispose();
  }
}
