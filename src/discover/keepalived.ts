/**
 * What keepalived mode needs on each LB host, from the probe: keepalived itself, curl for its health
 * check, and the interface that carries the host's address (where the virtual address goes).
 */
import type { Finding, HostFacts } from "./types.js";

/** Probe sections for an LB host in keepalived mode (read-only). */
export const KEEPALIVED_PROBE =
  "\necho '@@kubeha-probe@@ keepalived'; command -v keepalived >/dev/null && keepalived --version 2>&1 | head -1" +
  "\necho '@@kubeha-probe@@ curl'; command -v curl" +
  "\necho '@@kubeha-probe@@ addresses'; ip -o addr show 2>/dev/null";

/** The interface holding `address` in `ip -o addr show` output ("2: eth0    inet 10.0.0.21/24 ..."). */
export function interfaceHolding(ipAddr: string, address: string): string | undefined {
  const want = address.replace(/^\[|\]$/g, "").toLowerCase();
  for (const line of ipAddr.split("\n")) {
    const f = line.trim().split(/\s+/);
    if ((f[2] === "inet" || f[2] === "inet6") && f[3]?.split("/")[0]?.toLowerCase() === want)
      return f[1]?.replace(/@.*$/, "");
  }
  return undefined;
}

/** The probe's keepalived sections as facts. */
export function keepalivedFacts(
  s: Record<string, string | undefined>,
  address: string,
): NonNullable<HostFacts["keepalived"]> {
  const version = /Keepalived v(\S+)/.exec(s.keepalived ?? "")?.[1];
  const iface = interfaceHolding(s.addresses ?? "", address);
  return {
    ...(version && { version }),
    ...((s.curl ?? "").trim() && { curl: (s.curl ?? "").trim() }),
    ...(iface && { interface: iface }),
  };
}

export function keepalivedFindings(h: HostFacts, address: string, iface: string | undefined): Finding[] {
  const k = h.keepalived;
  if (!k) return [];
  const f: Finding[] = [];
  if (!k.version)
    f.push({
      severity: "error",
      host: h.name,
      message: "keepalived is not installed (it holds the virtual address)",
      fix: "apt-get install keepalived (Debian/Ubuntu), dnf install keepalived (RHEL)",
    });
  if (!k.curl)
    f.push({
      severity: "error",
      host: h.name,
      message:
        "curl is not installed (keepalived's health check reaches an apiserver through the local nginx with it)",
      fix: "apt-get install curl",
    });
  if (!iface && !k.interface)
    f.push({
      severity: "error",
      host: h.name,
      message: `no interface holds ${address}, so the virtual address has nowhere to go`,
      fix: "set loadBalancer.interface, or list the host with an address it has",
    });
  return f;
}
