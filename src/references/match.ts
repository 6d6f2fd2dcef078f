/**
 * Finding the primary's apiserver endpoint in text: `address:port`, `https://address:port`,
 * `[v6]:port` and `hostname:port`, each as a whole token (10.0.0.1:6443 is not inside
 * 10.0.0.11:6443 nor 110.0.0.1:6443; master-1:6443 not inside master-10:6443 or x.master-1:6443).
 * Pure string work: nothing is resolved.
 */
import { hostPort, sameHost, unbracket } from "../render/net.js";

/** The primary's apiserver as clients may name it. */
export interface Target {
  /** Its addresses (advertise and SSH address), IPv6 without brackets. */
  addresses: string[];
  /** Its hostname and node name. */
  names: string[];
  port: number;
}

/** Where references must point instead: the load balancer as clients use it. */
export interface Endpoint {
  address: string;
  port: number;
}

export interface TextMatch {
  /** Offset in the text and the matched `host:port`. */
  index: number;
  text: string;
  /** 1-based line of the match. */
  line: number;
}

/**
 * A `host:port` token: a bracketed IPv6 address or a name/IPv4 token, then a port. Not preceded by
 * a character that would make it the tail of a longer name, address or IPv6 literal.
 */
const HOST_PORT =
  /(?<![A-Za-z0-9_.:[\]-])(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})(?![0-9])/g;

/** True when `host` (an address, bracketed or not, or a name) is the target's. */
export function isTargetHost(host: string, t: Target): boolean {
  const bare = unbracket(host.trim());
  if (bare === "") return false;
  return t.addresses.some((a) => sameHost(a, bare)) || t.names.some((n) => sameHost(n, bare));
}

/** Every `host:port` in `text` that names the target. */
export function findEndpoints(text: string, t: Target): TextMatch[] {
  const out: TextMatch[] = [];
  for (const m of text.matchAll(HOST_PORT)) {
    const [whole, host = "", port = ""] = m;
    if (Number(port) !== t.port || !isTargetHost(host, t)) continue;
    // A bracketed host must be an IPv6 literal; a bare one must not need brackets.
    if (host.startsWith("[") !== host.includes(":")) continue;
    const index = m.index;
    out.push({ index, text: whole, line: text.slice(0, index).split("\n").length });
  }
  return out;
}

/** `text` with every target `host:port` replaced by the endpoint's (scheme and the rest kept). */
export function replaceEndpoints(text: string, t: Target, to: Endpoint): string {
  const matches = findEndpoints(text, t);
  let out = "";
  let at = 0;
  for (const m of matches) {
    out += text.slice(at, m.index) + hostPort(to.address, to.port);
    at = m.index + m.text.length;
  }
  return out + text.slice(at);
}

/** Keys that name an API host on their own (`k8s-service-host`, `KUBERNETES_SERVICE_HOST`, `apiServer`). */
const HOST_KEY = /host|server|addr|endpoint|master/i;

/**
 * A value that is the target's address or name on its own, under a key that names a host: the
 * host half of a host/port pair (cilium's `k8s-service-host`, `KUBERNETES_SERVICE_HOST`).
 */
export function isHostValue(key: string, value: string, t: Target): boolean {
  return HOST_KEY.test(key) && isTargetHost(value, t);
}

/** The port key paired with a host key: `k8s-service-host` → `k8s-service-port`; undefined when none. */
export function portKeyFor(key: string): string | undefined {
  const m = /^(.*)(host)(.*)$/i.exec(key);
  if (!m) return undefined;
  const [, before = "", word = "", after = ""] = m;
  const port = word === "HOST" ? "PORT" : word === "Host" ? "Port" : "port";
  return before + port + after;
}

/** `token=…`, `password: …`, `--client-key=…`: a credential that may share a line with an endpoint. */
const CREDENTIAL = /((?:token|password|passwd|secret|key)[A-Za-z_-]*["']?\s*[=:]\s*["']?)[^\s"',]+/gi;

/**
 * The line of `text` that holds offset `index`, trimmed, cut to a readable length, with any
 * credential on it hidden: this is what a report says a reference "says".
 */
export function lineAt(text: string, index: number, max = 160): string {
  const start = text.lastIndexOf("\n", index - 1) + 1;
  const end = text.indexOf("\n", index);
  const line = text
    .slice(start, end < 0 ? undefined : end)
    .trim()
    .replace(CREDENTIAL, "$1[hidden]");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
