/** Which TCP ports a host listens on: one command and one parser for discovery, the steps and verify. */
import type { Host } from "./types.js";

/** `ss` where it exists, `netstat` on older hosts; both print the local address as `addr:port`. */
export const LISTENING_COMMAND = "ss -Htln 2>/dev/null || netstat -tln 2>/dev/null";

/** Ports from the local-address column of `ss -Htln` / `netstat -tln` (pure). */
export function listeningPorts(listing: string): Set<number> {
  const ports = new Set<number>();
  for (const line of listing.split("\n")) {
    for (const field of line.trim().split(/\s+/)) {
      const m = /[:.](\d+)$/.exec(field);
      if (m && /[\d*\]]/.test(field) && field.includes(":")) ports.add(Number(m[1]));
    }
  }
  return ports;
}

/** The ports `host` listens on now. */
export async function portsListening(host: Host): Promise<Set<number>> {
  return listeningPorts((await host.exec(LISTENING_COMMAND)).stdout);
}
