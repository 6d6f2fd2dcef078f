import ssh2, { type Client } from "ssh2";
import type { Duplex } from "node:stream";
import { KubehaError } from "../errors.js";
import type { InventoryHost } from "../inventory/types.js";
import { loadCredentials } from "./credentials.js";
import { hostKeyAlgorithms, readKnownHosts, verifyHostKey, type HostKeyPolicy } from "./host-key.js";

/** One SSH endpoint to log in to: the host itself or its jump host. */
interface Endpoint {
  /** "host master-2 (10.0.0.12:22)": how every error about this endpoint starts. */
  label: string;
  user: string;
  identityFile?: string;
  agent: boolean;
  timeoutSeconds: number;
  policy: HostKeyPolicy;
}

/** An open connection to a host, with the jump host connection it runs through, if any. */
export interface Connection {
  client: Client;
  jump?: Client;
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
    policy: {
      address: host.address,
      port: ssh.port,
      ...(ssh.knownHostsFile !== undefined && { knownHostsFile: ssh.knownHostsFile }),
      ...(ssh.hostKeyFingerprint !== undefined && { hostKeyFingerprint: ssh.hostKeyFingerprint }),
      acceptNewHostKeys: ssh.acceptNewHostKeys,
    },
  };
  const jumpHost = ssh.jumpHost;
  if (!jumpHost) return { client: await login(target) };

  const jump = await login({
    label: `${target.label}: jump host ${endpoint(jumpHost.address, jumpHost.port)}`,
    user: jumpHost.user,
    ...(jumpHost.identityFile !== undefined && { identityFile: jumpHost.identityFile }),
    agent: ssh.agent,
    timeoutSeconds: ssh.connectTimeoutSeconds,
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
      throw new KubehaError(`${target.label}: the jump host cannot reach it: ${err.message}`);
    });
    return { client: await login(target, sock), jump };
  } catch (err) {
    jump.end();
    throw err;
  }
}

async function login(e: Endpoint, sock?: Duplex): Promise<Client> {
  const credentials = await loadCredentials(e.label, e.identityFile, e.agent);
  const entries = await readKnownHosts(e.policy.hostKeyFingerprint ? undefined : e.policy.knownHostsFile);
  const client = new ssh2.Client();
  let refusal: string | undefined;

  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    // Stays attached: after the first error (or once ready) further socket errors must not crash the
    // process; a dropped connection shows up as a closed connection on the next call.
    client.on("error", (err: Error & { code?: string; level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(new KubehaError(`${e.label}: ${refusal ?? explain(err, e, credentials.description)}`));
    });
    client.once("ready", () => {
      settled = true;
      resolve(client);
    });
    client.connect({
      host: e.policy.address,
      port: e.policy.port,
      username: e.user,
      ...(credentials.privateKey && { privateKey: credentials.privateKey }),
      ...(credentials.agent && { agent: credentials.agent }),
      ...(sock && { sock }),
      readyTimeout: e.timeoutSeconds * 1000,
      keepaliveInterval: 15_000,
      algorithms: { serverHostKey: hostKeyAlgorithms(entries, e.policy) },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
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

function explain(err: Error & { code?: string; level?: string }, e: Endpoint, credentials: string): string {
  switch (err.code) {
    case "ECONNREFUSED":
      return `connection refused on port ${e.policy.port} (is sshd running and listening there?)`;
    case "ETIMEDOUT":
      return `connection timed out (connectTimeoutSeconds: ${e.timeoutSeconds})`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `DNS lookup of ${e.policy.address} failed (${err.code})`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `host unreachable (${err.code})`;
    case "ECONNRESET":
      return "connection reset by the server during the SSH handshake";
  }
  if (err.level === "client-timeout") {
    return `connection timed out after ${e.timeoutSeconds}s (connectTimeoutSeconds)`;
  }
  if (err.level === "client-authentication") {
    return `authentication failed for user ${e.user} with ${credentials || "no credentials"}`;
  }
  return `SSH connection failed: ${err.message}`;
}
