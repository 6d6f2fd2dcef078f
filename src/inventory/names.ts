import { isIP } from "node:net";

const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const hostLabel = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;

/** Why `name` is not a valid Kubernetes node name (a DNS-1123 subdomain), or undefined when it is. */
export function nodeNameProblem(name: string): string | undefined {
  if (name.length > 253) return "is longer than 253 characters";
  if (!name.split(".").every((l) => label.test(l) && l.length <= 63)) {
    return `"${name}" is not a valid node name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** True for something that can be a DNS host name (not a malformed IP such as 10.0.0.300). */
export function isHostname(name: string): boolean {
  const labels = name.replace(/\.$/, "").split(".");
  if (name.length > 253 || !labels.every((l) => hostLabel.test(l) && l.length <= 63)) return false;
  // An all-numeric last label means someone meant an IPv4 address.
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

/** Why `address` is neither an IP address nor a host name, or undefined when it is one. */
export function addressProblem(address: string): string | undefined {
  return isIP(address) || isHostname(address)
    ? undefined
    : `"${address}" is neither an IP address nor a host name`;
}

/** Why `san` cannot be a certificate subject alternative name (IP, DNS name, or *.wildcard). */
export function sanProblem(san: string): string | undefined {
  const name = san.startsWith("*.") ? san.slice(2) : san;
  return isIP(san) || isHostname(name) ? undefined : `"${san}" is neither an IP address nor a DNS name`;
}
