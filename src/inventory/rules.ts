import type { LocatedHost, Normalised } from "./normalise.js";
import type { Problem } from "./problems.js";
import { plural } from "../ui/plural.js";

/** What a file check found; injectable so parsing stays free of the file system in tests. */
export type FileState = "ok" | "missing" | "unreadable" | "not-a-file";
export type FileCheck = (path: string) => FileState;

const fileProblem: Record<Exclude<FileState, "ok">, string> = {
  missing: "does not exist",
  unreadable: "is not readable",
  "not-a-file": "is not a regular file",
};

/** What an identity file holds: a usable private key, one that needs a passphrase, or none. */
export type KeyState = FileState | "not-a-key" | "encrypted" | "too-open";
export type KeyCheck = (path: string) => KeyState;

const keyProblem: Record<Exclude<KeyState, "ok">, string> = {
  ...fileProblem,
  "not-a-key": "is not a private key kubeha can read (OpenSSH or PEM format)",
  "too-open": "is readable by others; ssh refuses such a key too: chmod 600 it",
  encrypted:
    "is encrypted; kubeha does not ask for passphrases: add it to ssh-agent (ssh-add) and set agent: true",
};

/** Rules that span fields: counts, duplicates, roles, credentials and the files they name. */
export function checkRules(
  { inventory, hosts }: Normalised,
  fileState: FileCheck,
  keyState: KeyCheck = fileState,
): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => {
    if (!problems.some((p) => p.path === path && p.message === message)) problems.push({ path, message });
  };

  const n = inventory.masters.length;
  if (n !== 2 && n !== 4 && n !== 6) {
    add(
      "masters",
      `${plural(n, "new master")} would make ${n + 1} control-plane nodes; etcd needs an odd total of at most 7: list 2, 4 or 6 new masters`,
    );
  }

  const lb = inventory.loadBalancer;
  const masters = hosts.filter((h) => h.host.role === "primary" || h.host.role === "master");
  // An LB host written with a master's own name and address is that master, not a duplicate.
  const sameMachine = (h: LocatedHost) =>
    h.host.role === "loadBalancer" &&
    masters.some((m) => m.host.name === h.host.name && m.host.address === h.host.address);
  const distinct = hosts.filter((h) => !sameMachine(h));
  duplicates(distinct, (h) => h.host.name, "name", add);
  duplicates(distinct, (h) => h.host.address, "address", add, lbOnMaster(lb.port));
  for (const h of hosts.filter(sameMachine)) {
    if (lb.port === APISERVER_PORT)
      add(
        `${h.path}.name`,
        `${h.host.name} is a master, whose apiserver already listens on ${APISERVER_PORT}: set loadBalancer.port to another port (e.g. 8443) or use a host of its own`,
      );
  }

  const clash = masters.find((m) => m.host.address === lb.address);
  if (clash && !lb.hosts.some((h) => h.address === lb.address)) {
    const field =
      lb.mode === "keepalived" ? "virtualAddress" : lb.mode === "external" ? "address" : "clientAddress";
    add(
      `loadBalancer.${field}`,
      `${lb.address} is the address of ${clash.path} (${clash.host.name}); clients must reach the load balancer, not one master`,
    );
  }
  const holder = hosts.find((h) => h.host.role === "loadBalancer" && h.host.address === lb.address);
  if (lb.mode === "keepalived" && holder) {
    add(
      "loadBalancer.virtualAddress",
      `${lb.address} is the address of ${holder.path} (${holder.host.name}); the virtual address must be a free one, which keepalived moves between the hosts`,
    );
  }

  for (const h of hosts) checkCredentials(h, fileState, keyState, add);
  return problems;
}

/** kubeadm's apiserver port, the only one the inventory can know before discovery. */
const APISERVER_PORT = 6443;

/** Why a load balancer cannot share a master's address, true to the port it would listen on. */
function lbOnMaster(port: number): string {
  return port === APISERVER_PORT
    ? `; the load balancer needs its own host: the master's apiserver already listens on ${APISERVER_PORT}, the load balancer's port`
    : `; a load balancer on a master (here on port ${port}) is written with that master's name and address`;
}

function duplicates(
  hosts: LocatedHost[],
  key: (h: LocatedHost) => string,
  field: string,
  add: (path: string, message: string) => void,
  lbWhy = "",
): void {
  const seen = new Map<string, LocatedHost>();
  for (const h of hosts) {
    const first = seen.get(key(h));
    if (!first) {
      seen.set(key(h), h);
      continue;
    }
    const roles = new Set([first.host.role, h.host.role]);
    const why = roles.has("loadBalancer") && (roles.has("master") || roles.has("primary")) ? lbWhy : "";
    add(`${h.path}.${field}`, `"${key(h)}" is already the ${field} of ${first.path}${why}`);
  }
}

function checkCredentials(
  { host, path, origins }: LocatedHost,
  fileState: FileCheck,
  keyState: KeyCheck,
  add: (path: string, message: string) => void,
): void {
  const ssh = host.ssh;
  // An encrypted key is of use only through the agent, which holds it decrypted.
  const keyFault = (file: string): string | undefined => {
    const state = keyState(file);
    return state === "ok" || (state === "encrypted" && ssh.agent) ? undefined : keyProblem[state];
  };
  // A defaulted setting is reported once, where the shared default would be written.
  const at = (field: keyof typeof origins) => origins[field] ?? `ssh.${field}`;

  if (ssh.user !== "root" && !ssh.sudo) {
    add(
      origins.sudo ?? origins.user ?? `${path}.ssh.sudo`,
      `user ${ssh.user} is not root and sudo is false; kubeha needs root on ${host.name}: set sudo: true (passwordless) or connect as root`,
    );
  }
  if (!ssh.identityFile && !ssh.agent) {
    add(`${path}.ssh`, `no way to authenticate to ${host.name}: set identityFile or agent: true`);
  }
  const keyProblemOf = ssh.identityFile && keyFault(ssh.identityFile);
  if (keyProblemOf) add(at("identityFile"), `identity file ${ssh.identityFile} ${keyProblemOf}`);
  const jump = ssh.jumpHost;
  const jumpProblem =
    jump?.identityFile && jump.identityFile !== ssh.identityFile && keyFault(jump.identityFile);
  if (jumpProblem) add(`${at("jumpHost")}.identityFile`, `identity file ${jump.identityFile} ${jumpProblem}`);

  const needsKnownHosts = !ssh.hostKeyFingerprint || (jump !== undefined && !jump.hostKeyFingerprint);
  if (needsKnownHosts && ssh.knownHostsFile && !ssh.acceptNewHostKeys) {
    const state = fileState(ssh.knownHostsFile);
    if (state !== "ok") {
      add(
        at("knownHostsFile"),
        `known_hosts file ${ssh.knownHostsFile} ${fileProblem[state]}; add the hosts' keys (ssh-keyscan, then check the fingerprints), pin hostKeyFingerprint, or set acceptNewHostKeys: true`,
      );
    }
  }
}

/** Settings that are allowed but probably not meant. */
export function checkWarnings({ inventory, hosts }: Normalised): Problem[] {
  const warnings: Problem[] = [];
  const add = (path: string, message: string) => {
    if (!warnings.some((w) => w.path === path)) warnings.push({ path, message });
  };
  const lb = inventory.loadBalancer;
  for (const h of hosts.filter((x) => x.host.role === "loadBalancer")) {
    const master = [inventory.primary, ...inventory.masters].find((m) => m.name === h.host.name);
    if (master && lb.mode === "nginx")
      add(
        h.path,
        `the entry point runs on master ${master.name}: it shares that master's fate (lose ${master.name} and clients lose the API although two apiservers still run); keepalived mode avoids this`,
      );
  }
  for (const { host, origins } of hosts) {
    if (origins.hostKeyFingerprint === "ssh.hostKeyFingerprint" && hosts.length > 1) {
      add("ssh.hostKeyFingerprint", "pins one host key for every host; hosts normally each have their own");
    }
    if (host.ssh.acceptNewHostKeys && origins.acceptNewHostKeys) {
      add(
        origins.acceptNewHostKeys,
        "host keys not yet in known_hosts will be trusted on first use and recorded",
      );
    }
  }
  return warnings;
}
