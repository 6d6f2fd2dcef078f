import { isIP } from "node:net";
import { addressProblem, isHostname, nodeNameProblem } from "../inventory/names.js";
import type { FileState } from "../inventory/rules.js";

/**
 * Checks of one answer as it is typed. Each returns `true` or the message inquirer shows under the
 * question (the answer is then asked again). Names and addresses already given are passed in as
 * value → "what it belongs to" ("master-1 (primary)").
 */
export type Check = true | string;

export function addressAnswer(value: string, taken: ReadonlyMap<string, string> = new Map()): Check {
  const v = value.trim();
  if (!v) return "an IP address or host name is needed";
  const problem = addressProblem(v);
  if (problem) return problem;
  const owner = taken.get(v);
  if (owner) return `${v} is already the address of ${owner}; every host needs its own`;
  return true;
}

/** `etcdMembers`, for the primary: its node name is its etcd member's name (kubeadm names both alike). */
export function nodeNameAnswer(
  value: string,
  taken: ReadonlyMap<string, string> = new Map(),
  etcdMembers: readonly string[] = [],
): Check {
  const v = value.trim();
  if (!v) return "a node name is needed";
  const problem = nodeNameProblem(v);
  if (problem) return problem.startsWith('"') ? problem : `"${v}" ${problem}`;
  const owner = taken.get(v);
  if (owner) return `${v} is already the name of ${owner}`;
  if (etcdMembers.length && !etcdMembers.includes(v)) {
    return `no etcd member is named ${v} (members: ${etcdMembers.join(", ")}); kubeadm names the member after the node`;
  }
  return true;
}

export function userAnswer(value: string): Check {
  const v = value.trim();
  return /^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(v) ? true : `"${v}" is not a valid user name`;
}

/** Optional: empty is fine, anything else must be a DNS name (it goes into every apiserver certificate). */
export function dnsNameAnswer(value: string): Check {
  const v = value.trim();
  if (!v) return true;
  if (isIP(v)) return `${v} is an IP address; give it as the client address, or leave this empty`;
  return isHostname(v) ? true : `"${v}" is not a DNS name`;
}

/** The address clients use for the API: any address but one master's own. */
export function clientAddressAnswer(value: string, masters: ReadonlyMap<string, string>): Check {
  const v = value.trim();
  const problem = addressProblem(v);
  if (!v || problem) return problem ?? "an IP address or host name is needed";
  const owner = masters.get(v);
  if (owner) return `${v} is the address of ${owner}; clients must reach the load balancer, not one master`;
  return true;
}

const fileProblem: Record<Exclude<FileState, "ok">, string> = {
  missing: "does not exist",
  unreadable: "is not readable",
  "not-a-file": "is not a regular file",
};

/** An SSH private key the wizard will name in the inventory (by path only: its content never goes there). */
export function identityFileAnswer(typed: string, resolved: string, state: FileState): Check {
  if (!typed.trim()) return "the path of a private key is needed";
  return state === "ok" ? true : `${resolved} ${fileProblem[state]}`;
}

/** known_hosts may be missing only when new host keys are to be accepted (and recorded there). */
export function knownHostsAnswer(typed: string, resolved: string, state: FileState): Check {
  if (!typed.trim()) return "the path of a known_hosts file is needed";
  return state === "ok" || state === "missing" ? true : `${resolved} ${fileProblem[state]}`;
}

/** Which answer a failed SSH probe calls into question, so that one is asked again. */
export type ProbeFault = "address" | "credentials" | "hostKey" | "host";

/** Sorts the one-line errors of the SSH transport (src/ssh/connect.ts, credentials.ts, host.ts). */
export function probeFault(message: string): ProbeFault {
  if (/host key|known_hosts/i.test(message)) return "hostKey";
  if (/authentication failed|identity file|private key|passphrase|agent|sudo|needs root/i.test(message)) {
    return "credentials";
  }
  if (
    /connection refused|timed out|DNS lookup|unreachable|connection reset|jump host|EHOSTUNREACH|ENETUNREACH|ECONNREFUSED/i.test(
      message,
    )
  ) {
    return "address";
  }
  return "host";
}

/** The path the inventory is written to: a file name, not a directory. */
export function outputPathAnswer(value: string): Check {
  const v = value.trim();
  if (!v) return "a file name is needed";
  if (v.endsWith("/")) return `${v} is a directory; give a file name`;
  return true;
}
