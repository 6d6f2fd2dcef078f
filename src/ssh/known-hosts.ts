import { createHash, createHmac, randomBytes } from "node:crypto";

/** One line of an OpenSSH known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: "revoked" | "cert-authority";
  /** Plain patterns ("host", "[host]:2222", "*.example.com", "!bad") or one hashed `|1|salt|hash` entry. */
  hosts: string[];
  keyType: string;
  key: Buffer;
}

/** Parses known_hosts text; comments, blank and malformed lines are skipped as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    let marker: KnownHostEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") {
      marker = fields.shift()!.slice(1) as KnownHostEntry["marker"];
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) return;
    const key = Buffer.from(keyBase64, "base64");
    if (key.length === 0) return;
    entries.push({ line: i + 1, ...(marker && { marker }), hosts: hosts.split(","), keyType, key });
  });
  return entries;
}

/** How OpenSSH names a host in known_hosts: the bare host on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** True when the entry's host list names `name` (hashed entries, wildcards and `!negations` included). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  let matched = false;
  for (const pattern of entry.hosts) {
    if (pattern.startsWith("|1|")) {
      if (hashedMatches(pattern, name)) matched = true;
    } else if (pattern.startsWith("!")) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, , salt, hash] = pattern.split("|");
  if (!salt || !hash) return false;
  return hashHostName(name, Buffer.from(salt, "base64")) === pattern;
}

function globMatches(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "i").test(name);
}

/** The hashed form OpenSSH writes with HashKnownHosts: `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac("sha1", salt).update(name).digest("base64");
  return `|1|${salt.toString("base64")}|${hash}`;
}

/** OpenSSH's fingerprint of a public key blob: "SHA256:" and the unpadded base64 of its SHA-256. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(key: Buffer): string {
  const length = key.length >= 4 ? key.readUInt32BE(0) : 0;
  return key.subarray(4, 4 + length).toString("latin1");
}

export type HostKeyStatus =
  | { status: "known" }
  | { status: "revoked"; line: number }
  | { status: "mismatch"; known: { fingerprint: string; line: number }[] }
  | { status: "unknown" };

/**
 * Checks a server's key against known_hosts entries. A key that is @revoked anywhere it applies is
 * refused; any known key for the host that is not this one makes it a mismatch.
 */
export function checkHostKey(entries: KnownHostEntry[], name: string, key: Buffer): HostKeyStatus {
  const forHost = entries.filter((e) => e.marker !== "cert-authority" && entryMatches(e, name));
  const revoked = forHost.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", line: revoked.line };
  const known = forHost.filter((e) => e.marker === undefined);
  if (known.some((e) => e.key.equals(key))) return { status: "known" };
  if (known.length > 0) {
    return {
      status: "mismatch",
      known: known.map((e) => ({ fingerprint: fingerprint(e.key), line: e.line })),
    };
  }
  return { status: "unknown" };
}

/** The key types known for a host, so the client can ask the server for one of those first. */
export function knownKeyTypes(entries: KnownHostEntry[], name: string): string[] {
  const types = entries.filter((e) => e.marker === undefined && entryMatches(e, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

/** A known_hosts line for a new key; hashed when the file already uses hashed names. */
export function formatEntry(name: string, key: Buffer, hashed: boolean): string {
  return `${hashed ? hashHostName(name) : name} ${keyTypeOf(key)} ${key.toString("base64")}`;
}

/** Whether new entries should be hashed, following what the file already does. */
export function usesHashedNames(entries: KnownHostEntry[]): boolean {
  return entries.some((e) => e.hosts.some((h) => h.startsWith("|1|")));
}
