/**
 * One round trip per host: a read-only shell script prints every fact we need in marked
 * sections, and a pure function parses them. Nothing here changes the host.
 */
import { LISTENING_COMMAND } from "../ssh/ports.js";

export const PROBE_PORTS = [2379, 2380, 6443, 10250, 10257, 10259] as const;

/** Who the host is (src/discover/identity.ts): read from every host, workers included. */
const IDENTITY_SECTIONS = {
  hostname: "hostname",
  machineId: "cat /etc/machine-id 2>/dev/null",
  addresses: "ip -o addr show 2>/dev/null || hostname -I 2>/dev/null",
} as const;

// The clock is read at the round trip's midpoint: what runs before it should stay as short as it was.
const SECTIONS = {
  os: "cat /etc/os-release 2>/dev/null",
  hostname: IDENTITY_SECTIONS.hostname,
  kubelet: "kubelet --version 2>/dev/null",
  runtime:
    "containerd --version 2>/dev/null || crio --version 2>/dev/null | head -1 || docker --version 2>/dev/null",
  listening: LISTENING_COMMAND,
  ipForward: "cat /proc/sys/net/ipv4/ip_forward 2>/dev/null",
  brNetfilter: "cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null",
  clock: "date +%s%3N",
  machineId: IDENTITY_SECTIONS.machineId,
  addresses: IDENTITY_SECTIONS.addresses,
  manifests: "ls -A /etc/kubernetes/manifests 2>/dev/null",
  nginx: "nginx -V 2>&1 | head -5",
  nginxModules:
    "ls /etc/nginx/modules-enabled/ /usr/lib/nginx/modules/ 2>/dev/null; grep -Rhs '^[^#]*load_module' /etc/nginx/nginx.conf /etc/nginx/modules-enabled/ 2>/dev/null",
} as const;

export type ProbeSection = keyof typeof SECTIONS;
const MARK = "@@kubeha-probe@@";

const script = (sections: Record<string, string>): string =>
  Object.entries(sections)
    .map(([name, cmd]) => `echo '${MARK} ${name}'; ${cmd}`)
    .join("\n");

export const probeScript: string = script(SECTIONS);
/** The identity sections alone: what discovery reads from a worker. */
export const identityScript: string = script(IDENTITY_SECTIONS);

export function parseProbeSections(output: string): Partial<Record<ProbeSection, string>> {
  const out: Partial<Record<ProbeSection, string>> = {};
  let current: ProbeSection | undefined;
  const lines: string[] = [];
  const flush = () => {
    if (current) out[current] = lines.join("\n").trim();
    lines.length = 0;
  };
  for (const line of output.split("\n")) {
    if (line.startsWith(MARK + " ")) {
      flush();
      current = line.slice(MARK.length + 1).trim() as ProbeSection;
    } else if (current) {
      lines.push(line);
    }
  }
  flush();
  return out;
}

export function prettyOs(osRelease: string | undefined): string | undefined {
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease ?? "")?.[1];
}

/** "Kubernetes v1.31.2" → "1.31.2" */
export function kubeletVersion(text: string | undefined): string | undefined {
  return /v?(\d+\.\d+\.\d+)/.exec(text ?? "")?.[1];
}

/** "nginx version: nginx/1.22.1" → "1.22.1"; another build keeps its name ("openresty/1.21.4.1"). */
export function nginxVersion(nginxV: string | undefined): string | undefined {
  return /nginx version: (?:nginx\/)?(\S+)/.exec(nginxV ?? "")?.[1];
}

export type StreamModule = "builtin" | "loaded" | "available" | "missing";

/** Whether nginx can run a `stream {}` block, from `nginx -V` and the module listings. */
export function streamModuleState(nginxV: string, modules: string): StreamModule {
  if (/--with-stream(\s|$)/.test(nginxV)) return "builtin";
  if (/load_module\s+\S*ngx_stream_module\.so/.test(modules)) return "loaded";
  if (/ngx_stream_module\.so/.test(modules) || /mod-stream\.conf/.test(modules)) return "available";
  return "missing";
}
