import { homedir } from "node:os";
import { InputError } from "../errors.js";
import { clusterFindings, loadBalancerFindings, masterFindings } from "../discover/rules.js";
import type { ClusterFacts, Finding, HostFacts } from "../discover/types.js";
import type { HostRole, InventoryHost } from "../inventory/types.js";
import { UnreachableError } from "../ssh/connect.js";
import type { Reporter } from "../ui/reporter.js";
import {
  effectiveSsh,
  probeHostOf,
  sshOverride,
  suggestName,
  type HostAnswer,
  type LoadBalancerAnswer,
  type PathBase,
  type SshAnswers,
  type WizardAnswers,
} from "./answers.js";
import { PendingHostKeys } from "./host-keys.js";
import { isCancel, message, type Interrupt } from "./interrupt.js";
import { LB_LAYOUTS, layoutMode, type LbLayout } from "./layouts.js";
import { workerSuggestions, type NodeEntry } from "./nodes.js";
import { probeOther, probePrimary, type PrimaryFound } from "./probe.js";
import { Prompter } from "./prompt.js";
import type { RenderNotes } from "./render.js";
import { SshQuestions } from "./ssh-questions.js";
import {
  addressAnswer,
  clientAddressAnswer,
  dnsNameAnswer,
  nodeNameAnswer,
  probeFault,
  type ProbeFault,
} from "./validate.js";

/** Probes at the question must fail fast: an address nobody answers on is refused within seconds. */
const PROBE_CONNECT_TIMEOUT_SECONDS = 5;

/** How askHost may end besides with a reachable host. */
interface HostOptions {
  /** Fixed, not asked (a worker from the Node list). */
  name?: string;
  address?: string;
  /** A worker that cannot be reached may be kept (apply skips it until it answers) or left out. */
  mayKeep?: boolean;
  /** An empty address means "none after all". */
  mayCancel?: boolean;
  /** What an empty address means when it may be left empty (default: no such host). */
  emptyMeans?: string;
  onFacts?: (facts: HostFacts) => void;
}

/** The questions, in order, with every answer checked as given and every host probed at once. */
export class Wizard {
  private readonly base: PathBase = { cwd: process.cwd(), home: homedir() };
  /** name → what it names, address → whose it is: for refusing duplicates at the question. */
  private readonly names = new Map<string, string>();
  private readonly addresses = new Map<string, string>();
  private cluster: ClusterFacts | undefined;
  private nodes: NodeEntry[] = [];
  private readonly ask: Prompter;
  private readonly ssh: SshQuestions;
  readonly notes: RenderNotes = {};
  /** Host keys accepted while answering; written to known_hosts when the operator confirms. */
  readonly hostKeys = new PendingHostKeys();

  constructor(
    private readonly r: Reporter,
    private readonly interrupt: Interrupt,
  ) {
    this.ask = new Prompter(interrupt.signal);
    this.ssh = new SshQuestions(this.ask, r, this.base);
  }

  async collect(): Promise<WizardAnswers> {
    const { primary, ssh } = await this.askPrimary();
    const masters = await this.askMasters(ssh, primary.name);
    const loadBalancer = await this.askLoadBalancer(ssh, [primary, ...masters]);
    const workers = await this.askWorkers(ssh);
    return { ssh, primary, masters, loadBalancer, workers };
  }

  private say = (line: string): void => this.r.info(line);

  /** Runs a probe of `answer` against the pending copy of its known_hosts; Ctrl-C abandons it. */
  private probe<T>(
    answer: HostAnswer,
    role: HostRole,
    shared: SshAnswers,
    fn: (h: InventoryHost) => Promise<T>,
  ): Promise<T> {
    const h = probeHostOf(answer, role, shared, this.base, PROBE_CONNECT_TIMEOUT_SECONDS);
    const file = h.ssh.knownHostsFile!;
    return this.interrupt.race(
      this.hostKeys.around(file, `${answer.name} (${answer.address})`, (copy) =>
        fn({ ...h, ssh: { ...h.ssh, knownHostsFile: copy } }),
      ),
    );
  }

  private register(name: string, address: string, label: string): void {
    this.names.set(name, `${name} (${label})`);
    this.addresses.set(address, `${name} (${label})`);
  }

  private forget(h: HostAnswer): void {
    this.names.delete(h.name);
    this.addresses.delete(h.address);
  }

  // ---- the primary ---------------------------------------------------------------------------

  private async askPrimary(): Promise<{ primary: HostAnswer; ssh: SshAnswers }> {
    this.r.info(
      "The existing control-plane node (the primary), made by `kubeadm init`: how to reach it over SSH.",
    );
    const askAddress = () =>
      this.ask.text("address:primary", "Address of the primary (IP or host name):", {
        validate: (v) => addressAnswer(v),
      });
    let address = await askAddress();
    let ssh = await this.ssh.shared(undefined, "all");
    for (;;) {
      try {
        const found = await this.probe({ name: "primary", address }, "primary", ssh, (h) =>
          probePrimary(h, this.say),
        );
        this.cluster = found.cluster;
        this.nodes = found.nodes;
        this.showCluster(address, found);
        await this.checkClusterFindings();
        const name = await this.ask.text("name:primary", "Kubernetes node name of the primary:", {
          default: found.nodeName,
          validate: (v) => nodeNameAnswer(v, new Map(), found.members),
        });
        this.register(name, address, "the primary");
        return { primary: { name, address }, ssh };
      } catch (err) {
        if (isCancel(err)) throw err;
        this.r.error(message(err));
        const fault = probeFault(message(err));
        if (fault === "address" || fault === "host") {
          address = await askAddress();
          // Refused: sshd may listen elsewhere.
          if (/connection refused/.test(message(err)))
            ssh = { ...ssh, port: await this.ssh.port("the primary", ssh.port) };
        } else {
          ssh = await this.ssh.shared(ssh, fault);
        }
      }
    }
  }

  private showCluster(address: string, f: PrimaryFound): void {
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
        `  other nodes     ${
          f.nodes
            .filter((n) => !n.controlPlane)
            .map((n) => n.name)
            .join(", ") || "(none)"
        }`,
      );
      this.notes.etcdMembers = c.etcd.members.map((x) => x.name).filter(Boolean);
    }
    this.notes.kubernetesVersion = f.version;
    this.notes.serviceCidr = f.serviceCidr;
    for (const l of lines) this.r.info(l);
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
      const go = await this.ask.yesNo(
        "anyway:cluster",
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

  // ---- masters and the load balancer ---------------------------------------------------------

  private async askMasters(shared: SshAnswers, primaryName: string): Promise<HostAnswer[]> {
    const count = await this.ask.choose(
      "How many new control-plane hosts (masters)?",
      [
        { name: "2 (3 control-plane nodes in all)", value: 2 },
        { name: "4 (5 in all)", value: 4 },
        { name: "6 (7 in all)", value: 6 },
      ],
      2,
    );
    const out: HostAnswer[] = [];
    for (let i = 0; i < count; i++) {
      const what = `new master ${i + 1} of ${count}`;
      // A wrong count is corrected without Ctrl-C: an empty address goes back to it.
      const h = await this.askHost(shared, "master", what, suggestName(primaryName, i + 1), {
        mayCancel: true,
        emptyMeans: "back to the count",
      });
      if (!h) {
        out.forEach((m) => this.forget(m));
        return this.askMasters(shared, primaryName);
      }
      out.push(h);
    }
    return out;
  }

  private async askLoadBalancer(shared: SshAnswers, masters: HostAnswer[]): Promise<LoadBalancerAnswer> {
    const layout = await this.ask.choose<LbLayout>(
      "How do clients reach the apiservers?",
      LB_LAYOUTS.map((l) => ({ value: l, name: l.line, short: l.id })),
      LB_LAYOUTS[0],
    );
    const mode = layoutMode(layout);
    let host: HostAnswer;
    let facts: HostFacts | undefined;
    let port = 6443;
    if (layout.id === "nginx-host") {
      host = (await this.askHost(shared, "loadBalancer", "the load balancer host", "lb", {
        onFacts: (f) => (facts = f),
      }))!;
    } else if (layout.id === "nginx-master") {
      host = await this.ask.choose(
        "Which master runs nginx?",
        masters.map((m) => ({ value: m, name: `${m.name} (${m.address})` })),
      );
      // The master's own apiserver holds 6443.
      port = 8443;
    } else {
      const address = await this.ask.text(
        "address:api",
        layout.id === "keepalived"
          ? "The virtual IP clients will use (free now, on the masters' network):"
          : "Address of your load balancer:",
        { validate: (v) => addressAnswer(v, this.addresses) },
      );
      host = { name: layout.id, address };
      // keepalived runs beside nginx on the first three control-plane hosts, whose 6443 is taken.
      if (layout.id === "keepalived") port = 8443;
    }
    const keepalivedHosts = layout.id === "keepalived" ? masters.slice(0, 3) : undefined;
    const others = new Map([...this.addresses].filter(([a]) => a !== host.address));
    // A virtual or external address is itself what clients use.
    const clientAddress = mode
      ? host.address
      : await this.ask.text("clientAddress", "Address clients use for the API:", {
          default: host.address,
          validate: (v) => (v.trim() === host.address ? true : clientAddressAnswer(v, others)),
        });
    const dnsName = await this.ask.text(
      "dnsName",
      "DNS name for the API (optional, goes into every certificate):",
      { validate: dnsNameAnswer },
    );
    port = await this.ask.port("lbPort", "Port clients connect to on the load balancer:", port);
    if (facts) this.showFindings(loadBalancerFindings(facts, port));
    return {
      ...host,
      clientAddress,
      ...(dnsName && { dnsName }),
      port,
      ...(mode && { mode }),
      ...(keepalivedHosts && { hosts: keepalivedHosts }),
    };
  }

  // ---- workers -------------------------------------------------------------------------------

  /**
   * The cluster's own Nodes first, all selected (Enter keeps them all); then any number added by hand
   * or removed again, until the operator says done.
   */
  private async askWorkers(shared: SshAnswers): Promise<HostAnswer[]> {
    this.r.info(
      "Workers: each one's kubelet.conf is pointed at the load balancer; one left out keeps using the primary.",
    );
    const out: HostAnswer[] = [];
    const offered = workerSuggestions(this.nodes, new Set(this.names.keys()), new Set(this.addresses.keys()));
    if (offered.length) {
      const picked = await this.ask.pickMany(
        "Workers from the cluster's Nodes (space: select or not, Enter: accept):",
        offered.map((n) => ({
          value: n,
          name: `${n.name}  ${n.internalIP}${n.ready ? "" : "  (NotReady)"}`,
          short: n.name,
          checked: true,
        })),
      );
      for (const n of picked) {
        const a = await this.askHost(shared, "worker", n.name, n.name, {
          name: n.name,
          address: n.internalIP,
          mayKeep: true,
        });
        if (a) out.push(a);
      }
    }
    let added = 0;
    for (;;) {
      const action = await this.ask.choose(
        `Workers: ${out.map((w) => w.name).join(", ") || "none"}. Next?`,
        [
          { value: "done", name: "Done: go on with these workers" },
          { value: "add", name: "Add a worker that is not listed" },
          { value: "remove", name: "Remove a worker", disabled: out.length === 0 && "(none yet)" },
        ],
        "done",
      );
      if (action === "done") return out;
      if (action === "add") {
        added += 1;
        const a = await this.askHost(shared, "worker", `added worker ${added}`, `worker-${out.length + 1}`, {
          mayKeep: true,
          mayCancel: true,
        });
        if (a) out.push(a);
        continue;
      }
      const gone = await this.ask.choose(
        "Remove which worker?",
        [
          ...out.map((w) => ({ value: w.name, name: `${w.name} (${w.address})` })),
          { value: "", name: "None: keep them all" },
        ],
        "",
      );
      const i = out.findIndex((w) => w.name === gone);
      if (i >= 0) this.forget(out.splice(i, 1)[0]!);
    }
  }

  // ---- one host ------------------------------------------------------------------------------

  private askAddress(what: string, mayCancel: boolean, emptyMeans = "none"): Promise<string> {
    return this.ask.text(
      `address:${what}`,
      `Address of ${what}${mayCancel ? ` (empty: ${emptyMeans})` : ""}:`,
      {
        validate: (v) => (mayCancel && !v.trim() ? true : addressAnswer(v, this.addresses)),
      },
    );
  }

  /** The node name, offering the hostname the probe read; the load balancer's is only a label. */
  private askName(
    role: HostRole,
    what: string,
    hostname: string | undefined,
    suggested: string,
  ): Promise<string> {
    const free = (n: string | undefined): n is string => !!n && nodeNameAnswer(n, this.names) === true;
    const def = free(hostname) ? hostname : free(suggested) ? suggested : undefined;
    const msg =
      role === "loadBalancer"
        ? `Name of ${what} (for kubeha's messages; not a Kubernetes node):`
        : `Node name of ${what}${hostname ? ` (its hostname: ${hostname})` : ""}:`;
    return this.ask.text(`name:${what}`, msg, {
      ...(def && { default: def }),
      validate: (v) => nodeNameAnswer(v, this.names),
    });
  }

  /**
   * Address and SSH user of one host, a probe over SSH, then its name (its hostname offered); a failed
   * probe asks again for what it calls into question. Undefined: left out (workers only).
   */
  private async askHost(
    shared: SshAnswers,
    role: HostRole,
    what: string,
    suggested: string,
    opts: HostOptions = {},
  ): Promise<HostAnswer | undefined> {
    const label =
      role === "loadBalancer" ? "the load balancer" : role === "worker" ? "a worker" : "a new master";
    let address = opts.address ?? (await this.askAddress(what, opts.mayCancel ?? false, opts.emptyMeans));
    if (!address) return undefined;
    let own = opts.address ? shared : await this.ssh.own(shared, shared, what, "user");
    for (;;) {
      const answer: HostAnswer = { name: opts.name ?? suggested, address, ...this.override(shared, own) };
      try {
        const found = await this.probe(answer, role, shared, (h) => probeOther(h, this.say));
        this.describe(found.facts, opts.name ?? `${address} (hostname ${found.hostname})`);
        const name = opts.name ?? (await this.askName(role, what, found.hostname, suggested));
        if (opts.name === undefined && role === "worker") this.checkNode(name, address);
        if (await this.reviewFacts({ ...found.facts, name })) {
          this.register(name, address, label);
          opts.onFacts?.(found.facts);
          return { ...answer, name };
        }
        address = await this.askAddress(what, false);
        own = await this.ssh.own(shared, own, what, "user");
      } catch (err) {
        if (isCancel(err)) throw err;
        this.r.error(message(err));
        const fault = probeFault(message(err));
        if (fault === "address" || fault === "host") {
          if (opts.mayKeep && err instanceof UnreachableError) {
            const kept = await this.unreachable(answer, what, suggested, opts, message(err));
            if (kept !== "retry") return kept;
          }
          address = await this.askAddress(what, false);
        } else {
          own = await this.ssh.own(shared, effectiveSsh(shared, answer.ssh), what, fault as ProbeFault);
        }
      }
    }
  }

  private override(shared: SshAnswers, own: SshAnswers): Pick<HostAnswer, "ssh"> {
    const ssh = sshOverride(shared, own);
    return ssh ? { ssh } : {};
  }

  /** A worker that cannot be reached now: kept with a warning, left out, or given another address. */
  private async unreachable(
    answer: HostAnswer,
    what: string,
    suggested: string,
    opts: HostOptions,
    why: string,
  ): Promise<HostAnswer | undefined | "retry"> {
    const who = opts.name ?? what;
    const choice = await this.ask.choose(
      `${who} cannot be reached now. Keep it?`,
      [
        { value: "keep", name: `Keep ${who}: apply skips it until it can be reached`, short: "keep it" },
        { value: "retry", name: "Give another address", short: "another address" },
        { value: "drop", name: `Leave ${who} out`, short: "leave it out" },
      ],
      // A Node the cluster lists is most likely down for now; an address typed by hand, mistyped.
      opts.name ? "keep" : "retry",
    );
    if (choice === "drop") return undefined;
    if (choice === "retry") return "retry";
    const name = opts.name ?? (await this.askName("worker", what, undefined, suggested));
    this.r.warn(
      `${name} (${answer.address}) is kept although it cannot be reached now: apply will skip it (its kubelet keeps using the primary) until it can be reached; run apply again then`,
    );
    this.register(name, answer.address, "a worker");
    return { ...answer, name, unreachable: why };
  }

  /** A worker typed by hand should be one of the cluster's Nodes, at that Node's address. */
  private checkNode(name: string, address: string): void {
    if (!this.nodes.length) return;
    const node = this.nodes.find((n) => n.name === name);
    if (!node) this.r.warn(`the cluster has no Node named ${name}: apply will wait for one and fail`);
    else if (node.internalIP && node.internalIP !== address)
      this.r.warn(`Node ${name}'s InternalIP is ${node.internalIP}, not ${address}`);
  }

  /** Says what the probe found, as soon as it is found. */
  private describe(f: HostFacts, who: string): void {
    const what =
      f.role === "loadBalancer"
        ? f.nginx
          ? `nginx ${f.nginx.version ?? "?"} (stream module: ${f.nginx.stream})`
          : "no nginx"
        : `kubelet ${f.kubeletVersion ?? "missing"}, ${f.containerRuntime ?? "no container runtime"}`;
    this.r.info(`✓ ${who}: ${f.os ?? "unknown OS"}, ${what}`);
  }

  /** A host that plan would refuse may be kept (to fix later) or replaced. */
  private async reviewFacts(f: HostFacts): Promise<boolean> {
    if (f.role !== "master" || !this.cluster) return true;
    const findings = masterFindings(f, this.cluster);
    this.showFindings(findings);
    if (!findings.some((x) => x.severity === "error")) return true;
    return this.ask.yesNo(
      `keep:${f.name}`,
      `Keep ${f.name} anyway? (plan will refuse it until that is fixed; no: give another address)`,
      true,
    );
  }
}
