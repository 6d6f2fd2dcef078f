/**
 * Subject alternative names, computed from the cluster facts and the inventory (never typed by
 * hand): the apiserver's (kubeadm's GetAPIServerAltNames plus the load balancer) and etcd's.
 * Pure functions; bad input is an InputError naming the field.
 */
import ipaddr from "ipaddr.js";
import { InputError } from "../errors.js";

export interface Sans {
  dns: string[];
  ips: string[];
}

export interface ApiserverSanFacts {
  /** Kubernetes node name (and hostname) of the node the certificate is for. */
  nodeName: string;
  /** The node's advertise address (--advertise-address). */
  advertiseAddress: string;
  /** --service-cluster-ip-range, comma-separated for dual-stack: "10.96.0.0/12,fd00:10:96::/112". */
  serviceCidr: string;
  /** Cluster DNS domain; default "cluster.local". */
  clusterDomain?: string;
  loadBalancer?: { address: string; dnsName?: string };
  /** The operator's extra SANs (inventory options.extraSans): IPs or DNS names (wildcards allowed). */
  extraSans?: readonly string[];
  /**
   * SANs the primary's current apiserver certificate carries (so nothing that works today stops
   * working). Names that belong to another control-plane node are dropped: a master's certificate
   * must not be valid for another master's address.
   */
  inheritedSans?: Readonly<Sans>;
  /** Names and addresses of the other control-plane nodes, removed from `inheritedSans`. */
  otherNodes?: readonly { name: string; address: string }[];
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-cased DNS name, RFC 1123 labels; a leading "*." only where wildcards are allowed. */
export function normalizeDnsName(name: string, field: string, allowWildcard = false): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  const labels = n.split(".");
  const body = allowWildcard && labels[0] === "*" && labels.length > 2 ? labels.slice(1) : labels;
  if (n.length === 0 || n.length > 253 || !body.every((l) => DNS_LABEL.test(l))) {
    throw new InputError(`${field}: ${JSON.stringify(name)} is not a valid DNS name`);
  }
  return n;
}

export function isIpAddress(s: string): boolean {
  const t = s.trim();
  if (t.includes("%")) return false;
  return ipaddr.IPv4.isValidFourPartDecimal(t) || (t.includes(":") && ipaddr.IPv6.isValid(t));
}

/** Canonical text of an IP address (IPv6 in RFC 5952 form), or an error naming the field. */
export function normalizeIp(s: string, field: string): string {
  const t = s.trim();
  if (!isIpAddress(t)) throw new InputError(`${field}: ${JSON.stringify(s)} is not an IP address`);
  const addr = ipaddr.parse(t);
  if (addr.kind() === "ipv6") {
    const v6 = addr as ipaddr.IPv6;
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toRFC5952String();
  }
  return addr.toString();
}

/** The first address of each service CIDR (the `kubernetes` Service's ClusterIP is the first of the first). */
export function serviceIps(serviceCidr: string, field = "serviceCidr"): string[] {
  const cidrs = serviceCidr
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  if (cidrs.length === 0) throw new InputError(`${field}: empty; expected a CIDR such as 10.96.0.0/12`);
  if (cidrs.length > 2)
    throw new InputError(`${field}: ${JSON.stringify(serviceCidr)} has more than two CIDRs`);
  const ips = cidrs.map((cidr) => firstAddress(cidr, field));
  if (ips.length === 2 && ipaddr.parse(ips[0]!).kind() === ipaddr.parse(ips[1]!).kind()) {
    throw new InputError(
      `${field}: ${JSON.stringify(serviceCidr)}: dual-stack needs one IPv4 and one IPv6 CIDR`,
    );
  }
  return ips;
}

function firstAddress(cidr: string, field: string): string {
  const isV4 = ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr);
  const isV6 = !isV4 && cidr.includes(":") && ipaddr.IPv6.isValidCIDR(cidr);
  if (!isV4 && !isV6)
    throw new InputError(`${field}: ${JSON.stringify(cidr)} is not a CIDR such as 10.96.0.0/12`);
  const [, bits] = ipaddr.parseCIDR(cidr);
  const width = isV4 ? 32 : 128;
  if (width - bits < 2)
    throw new InputError(`${field}: ${JSON.stringify(cidr)} is too small for a service range`);
  const network = isV4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  const bytes = network.toByteArray();
  // network + 1, with carry (a /n network address ends in zero bits, so no carry in practice).
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff;
    if (bytes[i] !== 0) break;
  }
  const first = ipaddr.fromByteArray(bytes);
  return first.kind() === "ipv6" ? (first as ipaddr.IPv6).toRFC5952String() : first.toString();
}

/** Adds to an ordered, de-duplicated list. */
class OrderedSet {
  readonly items: string[] = [];
  private readonly seen = new Set<string>();
  add(v: string): void {
    if (!this.seen.has(v)) {
      this.seen.add(v);
      this.items.push(v);
    }
  }
}

/** Puts an IP-or-DNS SAN in the right list, normalised. */
function addSan(s: string, field: string, dns: OrderedSet, ips: OrderedSet): void {
  if (isIpAddress(s)) ips.add(normalizeIp(s, field));
  else dns.add(normalizeDnsName(s, field, true));
}

/**
 * The apiserver serving certificate's SANs, in a stable order: the node's hostname, `kubernetes`,
 * `kubernetes.default`, `kubernetes.default.svc`, `kubernetes.default.svc.<domain>`, the LB's DNS
 * name, extra and inherited DNS names; then the first IP of each service CIDR, the advertise
 * address, the LB's address, extra and inherited IPs.
 */
export function apiserverSans(facts: ApiserverSanFacts): Sans {
  const dns = new OrderedSet();
  const ips = new OrderedSet();
  const domain = normalizeDnsName(facts.clusterDomain ?? "cluster.local", "clusterDomain");

  dns.add(normalizeDnsName(facts.nodeName, "nodeName"));
  for (const n of [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    `kubernetes.default.svc.${domain}`,
  ]) {
    dns.add(n);
  }
  for (const ip of serviceIps(facts.serviceCidr)) ips.add(ip);
  ips.add(normalizeIp(facts.advertiseAddress, "advertiseAddress"));

  if (facts.loadBalancer) {
    ips.add(normalizeIp(facts.loadBalancer.address, "loadBalancer.address"));
    if (facts.loadBalancer.dnsName !== undefined) {
      addSan(facts.loadBalancer.dnsName, "loadBalancer.dnsName", dns, ips);
    }
  }
  (facts.extraSans ?? []).forEach((s, i) => addSan(s, `extraSans[${i}]`, dns, ips));

  if (facts.inheritedSans) {
    const foreign = new Set<string>();
    (facts.otherNodes ?? []).forEach((n, i) => {
      foreign.add(normalizeDnsName(n.name, `otherNodes[${i}].name`));
      foreign.add(normalizeIp(n.address, `otherNodes[${i}].address`));
    });
    const own = new Set([...dns.items, ...ips.items]);
    const inherit = (s: string, field: string): void => {
      const n = isIpAddress(s) ? normalizeIp(s, field) : normalizeDnsName(s, field, true);
      if (foreign.has(n) && !own.has(n)) return;
      addSan(n, field, dns, ips);
    };
    facts.inheritedSans.dns.forEach((s, i) => inherit(s, `inheritedSans.dns[${i}]`));
    facts.inheritedSans.ips.forEach((s, i) => inherit(s, `inheritedSans.ips[${i}]`));
  }
  return { dns: dns.items, ips: ips.items };
}

export interface EtcdSanFacts {
  nodeName: string;
  /** The node's address (etcd's advertise-client-urls / initial-advertise-peer-urls host). */
  address: string;
  /** etcd serverCertSANs / peerCertSANs from the kubeadm ClusterConfiguration, if any. */
  extraSans?: readonly string[];
}

/** etcd server and peer SANs (kubeadm's GetEtcdAltNames): hostname, localhost, node IP, 127.0.0.1, ::1. */
export function etcdSans(node: EtcdSanFacts): Sans {
  const dns = new OrderedSet();
  const ips = new OrderedSet();
  dns.add(normalizeDnsName(node.nodeName, "nodeName"));
  dns.add("localhost");
  ips.add(normalizeIp(node.address, "address"));
  ips.add("127.0.0.1");
  ips.add("::1");
  (node.extraSans ?? []).forEach((s, i) => addSan(s, `extraSans[${i}]`, dns, ips));
  return { dns: dns.items, ips: ips.items };
}
