/**
 * Small address helpers shared by the renderers: IPv6 bracketing, URL host swaps, loopback tests.
 * Pure string work; nothing here resolves names or touches the network.
 */
import ipaddr from "ipaddr.js";

/** True when `host` is an IPv6 literal (with or without brackets). */
export function isIPv6(host: string): boolean {
  const bare = unbracket(host);
  return ipaddr.IPv6.isValid(bare) && bare.includes(":");
}

/** True when `host` is an IPv4 or IPv6 literal. */
export function isIP(host: string): boolean {
  const bare = unbracket(host);
  return ipaddr.IPv4.isValidFourPartDecimal(bare) || isIPv6(bare);
}

/** `host` without surrounding `[` `]`. */
export function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** `host:port`, with the host bracketed when it is IPv6 (`[fd00::1]:6443`). */
export function hostPort(host: string, port: number | string): string {
  return `${isIPv6(host) ? `[${unbracket(host)}]` : host}:${port}`;
}

/** `scheme://host:port`, with an IPv6 host bracketed. */
export function makeURL(scheme: string, host: string, port: number | string): string {
  return `${scheme}://${hostPort(host, port)}`;
}

/** Same host: IPs compared by value (`fd00::1` = `fd00:0::1`), names case-insensitively. */
export function sameHost(a: string, b: string): boolean {
  const x = unbracket(a);
  const y = unbracket(b);
  if (isIP(x) && isIP(y)) {
    try {
      return ipaddr.parse(x).toNormalizedString() === ipaddr.parse(y).toNormalizedString();
    } catch {
      return false;
    }
  }
  return x.toLowerCase() === y.toLowerCase();
}

/** `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  const bare = unbracket(host);
  if (bare.toLowerCase() === "localhost") return true;
  if (!isIP(bare)) return false;
  return ipaddr.parse(bare).range() === "loopback";
}

/** 0.0.0.0 or ::. */
export function isUnspecified(host: string): boolean {
  const bare = unbracket(host);
  return isIP(bare) && ipaddr.parse(bare).range() === "unspecified";
}

/** The loopback address of the same family as `address` (127.0.0.1 or ::1), as kubeadm picks it. */
export function loopbackFor(address: string): string {
  return isIPv6(address) ? "::1" : "127.0.0.1";
}

/** Every textual form an address may take in a manifest (as written, compressed, bracketed). */
export function addressForms(address: string): string[] {
  const bare = unbracket(address);
  const forms = new Set<string>([bare]);
  if (isIPv6(bare)) {
    const parsed = ipaddr.IPv6.parse(bare);
    forms.add(parsed.toString());
    forms.add(parsed.toNormalizedString());
  }
  return [...forms];
}

/** A URL split into its parts; `host` never carries brackets. undefined when `text` is not `scheme://host[:port][rest]`. */
export interface ParsedURL {
  scheme: string;
  host: string;
  port?: string;
  rest: string;
}

const URL_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[^\]]*\]|[^:/?#[\]]*)(?::(\d+))?(.*)$/s;

/** Split `scheme://host[:port]rest`; undefined when it is not such a URL. */
export function parseURL(text: string): ParsedURL | undefined {
  const m = URL_RE.exec(text);
  if (!m) return undefined;
  const parsed: ParsedURL = { scheme: m[1] ?? "", host: unbracket(m[2] ?? ""), rest: m[4] ?? "" };
  if (m[3] !== undefined) parsed.port = m[3];
  return parsed;
}

/** Inverse of parseURL. */
export function formatURL(u: ParsedURL): string {
  const host = isIPv6(u.host) ? `[${u.host}]` : u.host;
  return `${u.scheme}://${host}${u.port !== undefined ? `:${u.port}` : ""}${u.rest}`;
}

/** Replace the host of every URL in a comma-separated list whose host is `from` by `to`. */
export function swapURLHosts(list: string, from: string, to: string): string {
  return list
    .split(",")
    .map((item) => {
      const u = parseURL(item);
      if (!u || !sameHost(u.host, from)) return item;
      return formatURL({ ...u, host: unbracket(to) });
    })
    .join(",");
}

/**
 * A regular expression matching `text` as a whole token (not inside a longer address or name):
 * `10.0.0.1` does not match inside `10.0.0.11`, `master-1` not inside `master-10`.
 */
export function tokenRegExp(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![A-Za-z0-9_.:-])${escaped}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9]|:[0-9A-Fa-f]*:)`, "i");
}
