import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { ServerHostKeyAlgorithm } from "ssh2";
import {
  checkHostKey,
  fingerprint,
  formatEntry,
  keyTypeOf,
  knownKeyTypes,
  knownHostsName,
  parseKnownHosts,
  usesHashedNames,
  type KnownHostEntry,
} from "./known-hosts.js";

/** How one endpoint's host key is to be trusted. */
export interface HostKeyPolicy {
  address: string;
  port: number;
  knownHostsFile?: string;
  hostKeyFingerprint?: string;
  acceptNewHostKeys: boolean;
}

/** `reason` is a sentence to put after "host X (addr:port): "; it never holds more than fingerprints. */
export type Verdict = { ok: true } | { ok: false; reason: string };

/** The known_hosts entries of a file, none when it does not exist yet. */
export async function readKnownHosts(file: string | undefined): Promise<KnownHostEntry[]> {
  if (!file) return [];
  try {
    return parseKnownHosts(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Host key algorithms in the order to offer them: the types already known for the host first. */
export function hostKeyAlgorithms(
  entries: KnownHostEntry[],
  policy: HostKeyPolicy,
): ServerHostKeyAlgorithm[] {
  const all: ServerHostKeyAlgorithm[] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
  ];
  const known = knownKeyTypes(entries, knownHostsName(policy.address, policy.port)).flatMap((t) =>
    t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256"] : [t],
  );
  const preferred = all.filter((a) => known.includes(a));
  return [...new Set([...preferred, ...all])];
}

/**
 * Decides whether to trust `key`: a pinned fingerprint must match; otherwise known_hosts decides.
 * A changed or revoked key is always refused; an unknown one only with acceptNewHostKeys, and then recorded.
 */
export async function verifyHostKey(
  policy: HostKeyPolicy,
  entries: KnownHostEntry[],
  key: Buffer,
): Promise<Verdict> {
  const offered = fingerprint(key);
  const mitm = "possible man-in-the-middle; if the host was reinstalled,";
  if (policy.hostKeyFingerprint) {
    return offered === policy.hostKeyFingerprint
      ? { ok: true }
      : {
          ok: false,
          reason: `host key mismatch: the inventory pins ${policy.hostKeyFingerprint}, server offered ${offered} — ${mitm} update hostKeyFingerprint in the inventory`,
        };
  }
  const file = policy.knownHostsFile ?? "known_hosts";
  const name = knownHostsName(policy.address, policy.port);
  const result = checkHostKey(entries, name, key);
  switch (result.status) {
    case "known":
      return { ok: true };
    case "revoked":
      return { ok: false, reason: `host key ${offered} is marked @revoked in ${file} (line ${result.line})` };
    case "mismatch": {
      const has = result.known.map((k) => k.fingerprint).join(", ");
      const lines = result.known.map((k) => k.line).join(", ");
      return {
        ok: false,
        reason: `host key mismatch: known_hosts has ${has}, server offered ${offered} — ${mitm} remove its line from ${file} (line ${lines})`,
      };
    }
    case "unknown":
      if (!policy.acceptNewHostKeys || !policy.knownHostsFile) {
        return {
          ok: false,
          reason: `host key unknown: server offered ${offered} (${keyTypeOf(key)}), which is not in ${file}; check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it to known_hosts, pin it with hostKeyFingerprint, or set acceptNewHostKeys: true`,
        };
      }
      await recordHostKey(policy.knownHostsFile, name, key);
      return { ok: true };
  }
}

// Appends are serialised per file: hosts connecting in parallel must not interleave lines.
const appending = new Map<string, Promise<void>>();

function recordHostKey(file: string, name: string, key: Buffer): Promise<void> {
  const previous = appending.get(file) ?? Promise.resolve();
  const next = previous.then(async () => {
    // Re-read: another host may have written since, and the hashing follows the file as it is now.
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    }
    const separator = text === "" || text.endsWith("\n") ? "" : "\n";
    const line = formatEntry(name, key, usesHashedNames(parseKnownHosts(text)));
    await appendFile(file, `${separator}${line}\n`, { mode: 0o600 });
  });
  appending.set(
    file,
    next.catch(() => undefined),
  );
  return next;
}
