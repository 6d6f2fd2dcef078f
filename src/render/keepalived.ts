/**
 * keepalived.conf for one LB host in keepalived mode: a VRRP instance over unicast peers holding the
 * virtual address, with a health check that reaches an apiserver through the local nginx. Pure.
 */
import { KubehaError } from "../errors.js";
import { isIP, isIPv6, unbracket } from "./net.js";
import { renderTemplate } from "./template.js";

export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";

export interface KeepalivedOptions {
  /** This host's name (keepalived's router_id) and the address it sends VRRP from. */
  name: string;
  address: string;
  /** The other LB hosts' addresses. */
  peers: string[];
  /** Its place among the LB hosts, 0 first: the first healthy one holds the address. */
  rank: number;
  virtualAddress: string;
  virtualRouterId: number;
  interface: string;
  /** The port nginx listens on (loadBalancer.port). */
  port: number;
  curl?: string;
}

/** Priorities 150, 140, 130 (first host first); a failing check takes off more than their spread. */
const TOP_PRIORITY = 150;
const STEP = 10;
const WEIGHT = 60;

export function renderKeepalived(o: KeepalivedOptions): string {
  const addrs = [o.address, o.virtualAddress, ...o.peers];
  for (const a of addrs)
    if (!isIP(a)) throw new KubehaError(`keepalived: ${JSON.stringify(a)} is not an IP address`);
  if (o.peers.length === 0) throw new KubehaError("keepalived: no peer to hand the virtual address to");
  if (new Set(addrs.map(isIPv6)).size > 1)
    throw new KubehaError(
      "keepalived: the virtual address and the hosts' addresses must be of one IP family",
    );
  if (!/^[A-Za-z0-9._@-]{1,15}$/.test(o.interface))
    throw new KubehaError(`keepalived: ${JSON.stringify(o.interface)} is not an interface name`);
  if (!Number.isInteger(o.virtualRouterId) || o.virtualRouterId < 1 || o.virtualRouterId > 255)
    throw new KubehaError(`keepalived: virtual_router_id ${o.virtualRouterId} is not 1–255`);
  if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank > 2)
    throw new KubehaError(`keepalived: rank ${o.rank} is not 0–2`);
  const ipv6 = isIPv6(o.virtualAddress);
  return renderTemplate("keepalived.conf.hbs", {
    routerId: `kubeha_${o.name.replace(/[^A-Za-z0-9_]/g, "_")}`,
    curl: o.curl ?? "/usr/bin/curl",
    checkHost: ipv6 ? "[::1]" : "127.0.0.1",
    port: o.port,
    weight: WEIGHT,
    interface: o.interface,
    virtualRouterId: o.virtualRouterId,
    priority: TOP_PRIORITY - STEP * o.rank,
    sourceAddress: unbracket(o.address),
    peers: o.peers.map(unbracket),
    virtualAddress: `${unbracket(o.virtualAddress)}/${ipv6 ? 128 : 32}`,
  });
}
