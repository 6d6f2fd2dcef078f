import ssh2, { type Client } from "ssh2";
import type { Duplex } from "node:stream";
import { InputError, KubehaError } from "../errors.js";
import type { InventoryHost } from "../inventory/types.js";
import { loadCredentials } from "../inventory/credentials.js";
import { fingerprint } from "./known-hosts.js";
import { hostKeyAlgorithms, readKnownHosts, verifyHostKey, type HostKeyPolicy } from "./host-key.js";

/** One SSH endpoint to log in to: the host itself or its jump host. */
interface Endpoint {
  /** "host master-2 (10.0.0.12:22)": how every error about this endpoint starts. */
  label: string;
  user: string;
  identityFile?: string;
  agent: boolean;
  timeoutSeconds: number;
  stallTimeoutSeconds: number;
  policy: HostKeyPolicy;
}

/**
 * The host could not be reached at all (refused, timed out, no route, DNS): the one connection failure
 * after which a worker may be left for a later run. A refused host key or failed login is not this.
 */
export class UnreachableError extends KubehaError {
  constructor(message: string) {
    super(message);
    this.name = "UnreachableError";
  }
}

/** An open connection to a host, with the jump host connection it runs through, if any. */
export interface Connection {
  client: Client;
  jump?: Client;
  /** OpenSSH's SHA256 fingerprint of the host key the target offered and we verified. */
  hostKey: string;
}

/** "host master-2 (10.0.0.12:22)" */
export function hostLabel(host: InventoryHost): string {
  return `host ${host.name} (${endpoint(host.address, host.ssh.port)})`;
}

function endpoint(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Connects and authenticates to a host, through its jump host when it has one, verifying every host key.
 * Errors name the host and say what failed: refused, timed out, DNS, authentication, host key.
 */
export async function connect(host: InventoryHost): Promise<Connection> {
  const ssh = host.ssh;
  const target: Endpoint = {
    label: hostLabel(host),
    user: ssh.user,
    ...(ssh.identityFile !== undefined && { identityFile: ssh.identityFile }),
    agent: ssh.agent,
    timeoutSeconds: ssh.connectTimeoutSeconds,
    stallTimeoutSeconds: ssh.stallTimeoutSeconds,
    policy: {
      address: host.address,
      port: ssh.port,
      ...(ssh.knownHostsFile !== undefined && { knownHostsFile: ssh.knownHostsFile }),
      ...(ssh.hostKeyFingerprint !== undefined && { hostKeyFingerprint: ssh.hostKeyFingerprint }),
      acceptNewHostKeys: ssh.acceptNewHostKeys,
    },
  };
  const jumpHost = ssh.jumpHost;
  if (!jumpHost) return login(target);

  const { client: jump } = await login({
    label: `${target.label}: jump host ${endpoint(jumpHost.address, jumpHost.port)}`,
    user: jumpHost.user,
    ...(jumpHost.identityFile !== undefined && { identityFile: jumpHost.identityFile }),
    agent: ssh.agent,
    timeoutSeconds: ssh.connectTimeoutSeconds,
    stallTimeoutSeconds: ssh.stallTimeoutSeconds,
    policy: {
      address: jumpHost.address,
      port: jumpHost.port,
      ...(ssh.knownHostsFile !== undefined && { knownHostsFile: ssh.knownHostsFile }),
      ...(jumpHost.hostKeyFingerprint !== undefined && { hostKeyFingerprint: jumpHost.hostKeyFingerprint }),
      acceptNewHostKeys: ssh.acceptNewHostKeys,
    },
  });
  try {
    const sock = await new Promise<Duplex>((resolve, reject) =>
      jump.forwardOut("127.0.0.1", 0, host.address, ssh.port, (err, stream) =>
        err ? reject(err) : resolve(stream),
      ),
    ).catch((err: Error) => {
      throw new UnreachableError(`${target.label}: the jump host cannot reach it: ${err.message}`);
    });
    return { ...(await login(target, sock)), jump };
  } catch (err) {
    jump.end();
    throw err;
  }
}

async function login(e: Endpoint, sock?: Duplex): Promise<{ client: Client; hostKey: string }> {
  const credentials = await loadCredentials(e.label, e.identityFile, e.agent);
  const knownHostsFile = e.policy.hostKeyFingerprint ? undefined : e.policy.knownHostsFile;
  const entries = await readKnownHosts(knownHostsFile).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(
      `${e.label}: cannot read known_hosts file ${knownHostsFile} (${err.code ?? err.message})`,
    );
  });
  const client = new ssh2.Client();
  let refusal: string | undefined;
  let hostKey = "";

  return new Promise((resolve, reject) => {
    let settled = false;
    // Stays attached: after the first error (or once ready) further socket errors must not crash the
    // process; a dropped connection shows up as a closed connection on the next call.
    client.on("error", (err: Error & { code?: string; level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      // A refused host key is bad input (a possible man-in-the-middle), never a host that is merely down.
      if (refusal) return reject(new InputError(`${e.label}: ${refusal}`));
      const why = explain(err, e, credentials.description);
      reject(
        why.unreachable
          ? new UnreachableError(`${e.label}: ${why.text}`)
          : new KubehaError(`${e.label}: ${why.text}`),
      );
    });
    client.once("ready", () => {
      settled = true;
      resolve({ client, hostKey });
    });
    client.connect({
      host: e.policy.address,
      port: e.policy.port,
      username: e.user,
      ...(credentials.privateKey && { privateKey: credentials.privateKey }),
      ...(credentials.agent && { agent: credentials.agent }),
      ...(sock && { sock }),
      readyTimeout: e.timeoutSeconds * 1000,
      ...keepalive(e.stallTimeoutSeconds),
      algorithms: { serverHostKey: hostKeyAlgorithms(entries, e.policy) },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        hostKey = fingerprint(key);
        verifyHostKey(e.policy, entries, key).then(
          (verdict) => {
            if (!verdict.ok) refusal = verdict.reason;
            verify(verdict.ok);
          },
          (err: Error) => {
            refusal = `cannot check the host key against ${e.policy.knownHostsFile}: ${err.message}`;
            verify(false);
          },
        );
      },
    });
    // Each command costs several small round trips; with Nagle's algorithm each waits for a delayed ACK.
    client.setNoDelay(true);
  });
}

/**
 * A ping every third of the bound, the connection given up after the third without an answer: the host is
 * declared gone between 2/3 of the bound and the bound after it last answered. Long commands and transfers
 * are not cut short: the host answers pings while it works.
 */
function keepalive(stallTimeoutSeconds: number): {
  keepaliveInterval: number;
  keepaliveCountMax: number;
} {
  return {
    keepaliveInterval: Math.max(500, Math.round((stallTimeoutSeconds * 1000) / 3)),
    keepaliveCountMax: 2,
  };
}

function explain(
  err: Error & { code?: string; level?: string },
  e: Endpoint,
  credentials: string,
): { text: string; unreachable: boolean } {
  const down = (text: string) => ({ text, unreachable: true });
  switch (err.code) {
    case "ECONNREFUSED":
      return down(`connection refused on port ${e.policy.port} (is sshd running and listening there?)`);
    case "ETIMEDOUT":
      return down(`connection timed out (connectTimeoutSeconds: ${e.timeoutSeconds})`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return down(`DNS lookup of ${e.policy.address} failed (${err.code})`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return down(`host unreachable (${err.code})`);
    case "ECONNRESET":
      return down("connection reset by the server during the SSH handshake");
  }
  if (err.level === "client-timeout") {
    return down(`connection timed out after ${e.timeoutSeconds}s (connectTimeoutSeconds)`);
  }
  if (err.level === "client-authentication") {
    return {
      text: `authentication failed for user ${e.user} with ${credentials || "no credentials"}`,
      unreachable: false,
    };
  }
  return { text: `SSH connection failed: ${err.message}`, unreachable: false };
}
