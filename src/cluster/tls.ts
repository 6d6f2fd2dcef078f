import { connect, createSecureContext, type ConnectionOptions, type SecureContext } from "node:tls";
import type { RequestOptions } from "node:https";
import type { X509Certificate } from "node:crypto";
import type { Host } from "../ssh/types.js";

// Nothing verified, so one context for every such connection: made anew per connection (with the
// system's CAs) it cost more CPU than the handshake.
let unverified: SecureContext | undefined;
const unverifiedContext = (): SecureContext => (unverified ??= createSecureContext());

/** The certificate presented on a local (forwarded) port; not verified. */
export function peerCertificate(port: number, timeoutMs = 5000): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      secureContext: unverifiedContext(),
      timeout: timeoutMs,
    });
    socket.once("secureConnect", () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) reject(new Error("no certificate presented"));
      else resolve(cert);
    });
    socket.once("timeout", () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("error", reject);
  });
}

/**
 * The certificate a TLS server on `host`'s loopback presents, read through a forwarded port.
 * Nothing is verified here: callers check the certificate against the names clients use.
 */
export async function servedCertificate(
  host: Host,
  port: number,
  timeoutMs = 5000,
): Promise<X509Certificate> {
  const fwd = await host.forward(port);
  try {
    return await peerCertificate(fwd.localPort, timeoutMs).catch((err: unknown) => {
      throw new Error(`${host.name}:${port}: ${(err as Error).message}`);
    });
  } finally {
    await fwd.close();
  }
}

/** An HTTPS GET to a component's health endpoint on `host`'s loopback (self-signed, so not verified). */
export async function healthz(
  host: Host,
  port: number,
  path = "/healthz",
  timeoutMs = 5000,
): Promise<boolean> {
  const { request } = await import("node:https");
  const fwd = await host.forward(port);
  // https passes secureContext on to tls.connect (not in its type).
  const options: RequestOptions & Pick<ConnectionOptions, "secureContext"> = {
    host: "127.0.0.1",
    port: fwd.localPort,
    path,
    rejectUnauthorized: false,
    secureContext: unverifiedContext(),
    timeout: timeoutMs,
    agent: false,
  };
  try {
    return await new Promise<boolean>((resolve) => {
      const req = request(options, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
      req.end();
    });
  } finally {
    await fwd.close();
  }
}
