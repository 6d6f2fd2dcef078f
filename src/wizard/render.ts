import { stringify } from "yaml";
import type { HostAnswer, LoadBalancerAnswer, SshAnswers, WizardAnswers } from "./answers.js";

/** What the wizard found on the primary, recorded as comments next to the answers. */
export interface RenderNotes {
  kubernetesVersion?: string;
  serviceCidr?: string;
  etcdMembers?: string[];
  /** "2025-01-31T12:00:00Z" */
  writtenAt?: string;
}

/** A YAML scalar exactly as the `yaml` package would write it (quoted only when it must be). */
function scalar(v: string | number | boolean): string {
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

function line(indent: number, key: string, value: string | number | boolean, comment?: string): string {
  return `${" ".repeat(indent)}${key}: ${scalar(value)}${comment ? ` # ${comment}` : ""}`;
}

const sshComments: Record<keyof SshAnswers, string> = {
  user: "root, or a user with passwordless sudo",
  port: "sshd's port",
  identityFile: "path of the private key (the key itself is never copied here)",
  sudo: "true: privileged commands through `sudo -n` (NOPASSWD)",
  knownHostsFile: "host keys are checked against this file",
  acceptNewHostKeys: "true: trust and record keys not yet known; a changed key is always refused",
};
const sshOrder: (keyof SshAnswers)[] = [
  "user",
  "port",
  "identityFile",
  "sudo",
  "knownHostsFile",
  "acceptNewHostKeys",
];

function sshBlock(indent: number, ssh: Partial<SshAnswers>, comments: boolean): string[] {
  return sshOrder
    .filter((k) => ssh[k] !== undefined)
    .map((k) => line(indent, k, ssh[k]!, comments ? sshComments[k] : undefined));
}

/** A host in a list ("  - name: ...") or as a mapping ("  name: ..."), with its own `ssh:` if any. */
function hostLines(h: HostAnswer, item: boolean): string[] {
  const first = item ? "  - " : "  ";
  const rest = item ? "    " : "  ";
  const out = [
    ...(h.unreachable
      ? [
          `${first.replace("-", " ")}# could not be reached when written (${h.unreachable}): apply skips it until it can be`,
        ]
      : []),
    `${first}${line(0, "name", h.name)}`,
    `${rest}${line(0, "address", h.address)}`,
  ];
  if (h.ssh && Object.keys(h.ssh).length) {
    out.push(`${rest}ssh: # overrides the shared settings for this host`);
    out.push(...sshBlock(rest.length + 2, h.ssh, false));
  }
  return out;
}

/** Where the entry point is: a host (nginx), hosts and a virtual address (keepalived), or yours (external). */
function loadBalancerPlace(lb: LoadBalancerAnswer): string[] {
  if (lb.mode === "keepalived")
    return [
      "  hosts: # each runs nginx stream and keepalived",
      ...(lb.hosts ?? []).flatMap((h) =>
        hostLines({ name: h.name, address: h.address }, true).map((l) => `  ${l}`),
      ),
      line(2, "virtualAddress", lb.address, "the address clients use; keepalived moves it to a healthy host"),
    ];
  if (lb.mode === "external")
    return [line(2, "address", lb.address, "your load balancer; kubeha checks it but does not configure it")];
  return [
    ...hostLines(lb, false),
    line(2, "clientAddress", lb.clientAddress, "the address clients use for the API"),
  ];
}

/**
 * The inventory file the wizard writes: the schema of docs/CONTRACTS.md, commented, in the order the
 * questions were asked. It names the key file by path and holds no secret.
 */
export function renderInventory(a: WizardAnswers, notes: RenderNotes = {}): string {
  const found = [
    notes.kubernetesVersion && `Kubernetes ${notes.kubernetesVersion}`,
    notes.serviceCidr && `service CIDR ${notes.serviceCidr}`,
    notes.etcdMembers?.length && `etcd members: ${notes.etcdMembers.join(", ")}`,
  ].filter(Boolean);
  const lb = a.loadBalancer;
  const lines = [
    `# kubeha inventory, written by \`kubeha wizard\`${notes.writtenAt ? ` on ${notes.writtenAt}` : ""}.`,
    "# Check it with `kubeha discover -i FILE`; `kubeha plan -i FILE` shows every change (both change nothing).",
    "# It holds no secret: only the path of the SSH key. Relative paths are taken from this file's directory.",
    "# The schema, every field commented: inventory/example.yaml in kubeha's sources.",
    "",
    "# SSH defaults for every host. A host may override any of them under its own `ssh:`.",
    "ssh:",
    ...sshBlock(2, a.ssh, true),
    "",
    "# The existing control-plane node, made by `kubeadm init`.",
    ...(found.length ? [`# Found there: ${found.join("; ")}.`] : []),
    "primary:",
    ...hostLines(a.primary, false),
    "",
    `# The new control-plane hosts: ${a.masters.length} of them, so there will be ${a.masters.length + 1} (an odd number, for etcd's quorum).`,
    "masters:",
    ...a.masters.flatMap((h) => hostLines(h, true)),
    "",
    "# The host nginx runs on (a layer-4 load balancer in front of every apiserver): its own machine.",
    "loadBalancer:",
    ...(lb.mode ? [line(2, "mode", lb.mode, "nginx (the default), keepalived or external")] : []),
    ...loadBalancerPlace(lb),
    ...(lb.dnsName ? [line(2, "dnsName", lb.dnsName, "added to every apiserver certificate")] : []),
    line(2, "port", lb.port, "clients connect to clientAddress:port"),
    "",
    "# Workers: each one's kubelet.conf is pointed at the load balancer. A worker left out keeps using the primary.",
    ...(a.workers.length ? ["workers:", ...a.workers.flatMap((h) => hostLines(h, true))] : ["workers: []"]),
    "",
    "options:",
    line(2, "stateDir", "kubeha-state", "backups, journal and logs, next to this file"),
    "",
  ];
  return lines.join("\n");
}
