import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaults } from "../inventory/normalise.js";
import { resolvePath } from "../inventory/paths.js";
import type { HostRole, InventoryHost } from "../inventory/types.js";

/** The SSH settings the wizard asks for; the primary's answers become the inventory's shared `ssh:`. */
export interface SshAnswers {
  user: string;
  port: number;
  /** As the operator typed it ("~/.ssh/id_ed25519"), or made absolute when it was relative. */
  identityFile: string;
  sudo: boolean;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
}

/** One host as answered; `ssh` holds only the settings that differ from the shared ones. */
export interface HostAnswer {
  name: string;
  address: string;
  ssh?: Partial<SshAnswers>;
  /** A worker kept while it could not be reached: why (recorded as a comment; apply skips it until it answers). */
  unreachable?: string;
}

export interface LoadBalancerAnswer extends HostAnswer {
  /** `loadBalancer.mode` when not nginx (the default). */
  mode?: "keepalived" | "external";
  /** keepalived: the hosts that run nginx and keepalived; the answer's own address is the virtual one. */
  hosts?: HostAnswer[];
  /** The address clients use; the host's own address unless the operator gave another. */
  clientAddress: string;
  dnsName?: string;
  port: number;
}

/** Everything the wizard learned; rendered into an inventory file. */
export interface WizardAnswers {
  ssh: SshAnswers;
  primary: HostAnswer;
  masters: HostAnswer[];
  loadBalancer: LoadBalancerAnswer;
  workers: HostAnswer[];
}

/** Where paths are taken from: `~` is `home`, a relative path is under `cwd`. */
export interface PathBase {
  cwd: string;
  home: string;
}

/** The default key: ~/.ssh/id_ed25519, or ~/.ssh/id_rsa when only that one exists. */
export function defaultIdentityFile(home: string, exists: (p: string) => boolean = existsSync): string {
  if (!exists(join(home, ".ssh", "id_ed25519")) && exists(join(home, ".ssh", "id_rsa"))) {
    return "~/.ssh/id_rsa";
  }
  return "~/.ssh/id_ed25519";
}

/**
 * A path as it goes into the inventory: `~` forms and absolute paths as typed, a relative path made
 * absolute (the inventory takes relative paths from its own directory, the operator typed it from here).
 */
export function pathForInventory(typed: string, base: PathBase): string {
  const p = typed.trim();
  return p === "~" || p.startsWith("~/") ? p : resolvePath(p, base.cwd, base.home);
}

/** The settings one host really uses: the shared ones with its own on top. */
export function effectiveSsh(shared: SshAnswers, own: Partial<SshAnswers> | undefined): SshAnswers {
  return { ...shared, ...own };
}

/** Only the settings of `own` that differ from `shared`, or undefined when none do. */
export function sshOverride(shared: SshAnswers, own: SshAnswers): Partial<SshAnswers> | undefined {
  const out: Partial<SshAnswers> = {};
  for (const key of Object.keys(own) as (keyof SshAnswers)[]) {
    if (own[key] !== shared[key]) (out as Record<string, unknown>)[key] = own[key];
  }
  return Object.keys(out).length ? out : undefined;
}

/** sudo follows the user: root needs none, anyone else needs it (kubeha needs root on every host). */
export function sudoFor(user: string, shared: SshAnswers): boolean {
  if (user === shared.user) return shared.sudo;
  return user !== "root";
}

/** The host as the SSH transport wants it, with a short connect timeout for probing at the question. */
export function probeHostOf(
  answer: HostAnswer,
  role: HostRole,
  shared: SshAnswers,
  base: PathBase,
  connectTimeoutSeconds: number,
): InventoryHost {
  const s = effectiveSsh(shared, answer.ssh);
  return {
    name: answer.name,
    address: answer.address,
    role,
    ssh: {
      user: s.user,
      port: s.port,
      identityFile: resolvePath(s.identityFile, base.cwd, base.home),
      agent: false,
      sudo: s.sudo,
      knownHostsFile: resolvePath(s.knownHostsFile, base.cwd, base.home),
      acceptNewHostKeys: s.acceptNewHostKeys,
      connectTimeoutSeconds,
      stallTimeoutSeconds: defaults.stallTimeoutSeconds,
    },
  };
}

/**
 * A name for the next host from the primary's: "master-1" → "master-2", "master-3"; "cp1" → "cp2".
 * `offset` counts from 1 after the primary.
 */
export function suggestName(primaryName: string, offset: number, fallback = "master"): string {
  const m = /^(.*?)(\d+)$/.exec(primaryName);
  if (m) return `${m[1]}${Number(m[2]) + offset}`;
  return `${fallback}-${offset + 1}`;
}
