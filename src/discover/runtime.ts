/**
 * Can a new master run the control plane? Its container runtime must answer (`crictl info`), use
 * the cgroup driver of the kubelet configuration kubeha copies from the primary, and have the
 * primary's static pod images or be able to pull them. Discovery only looks (inspecti); apply pulls.
 */
import { parse } from "yaml";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Host } from "../ssh/types.js";
import type { ClusterFacts, Finding, HostFacts, RuntimeFacts } from "./types.js";

export type CgroupDriver = "systemd" | "cgroupfs";
const MARK = "@@kubeha-runtime@@";

/**
 * One round trip: present/missing per image, then `crictl info` and its exit code. The crictl calls
 * run at once (each is a process and a gRPC connection); only the one-line image answers interleave.
 */
export function runtimeScript(images: readonly string[]): string {
  return [
    `echo '${MARK} images'`,
    ...images.map(
      (i) =>
        `(if crictl inspecti -q ${shellQuote([i])} >/dev/null 2>&1; then echo present ${shellQuote([i])}; else echo missing ${shellQuote([i])}; fi) &`,
    ),
    `info=$(crictl info 2>&1); rc=$?`,
    "wait",
    `echo '${MARK} info'; printf '%s\\n' "$info"; echo '${MARK} infoExit'; echo $rc`,
  ].join("\n");
}

function sections(out: string): Record<string, string> {
  const s: Record<string, string> = {};
  let name = "";
  for (const line of out.split("\n")) {
    if (line.startsWith(`${MARK} `)) name = line.slice(MARK.length + 1).trim();
    else if (name) s[name] = s[name] === undefined ? line : `${s[name]}\n${line}`;
  }
  return s;
}

/** What `crictl info` says: RuntimeReady, and the cgroup driver of the runtime kubelet's pods use. */
export function crictlInfo(text: string): { ready: boolean; why?: string; cgroupDriver?: CgroupDriver } {
  const start = text.search(/^\{/m);
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(start < 0 ? text : text.slice(start)) as Record<string, unknown>;
  } catch {
    return { ready: false, why: `crictl info printed no JSON: ${lastLines(text)}` };
  }
  const get = (o: unknown, ...path: string[]): unknown =>
    path.reduce<unknown>(
      (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
      o,
    );
  const conditions = (get(info, "status", "conditions") ?? []) as {
    type?: string;
    status?: boolean;
    reason?: string;
    message?: string;
  }[];
  const runtime = conditions.find((c) => c.type === "RuntimeReady");
  const cgroupDriver = driverOf(info, get);
  if (runtime && runtime.status === false) {
    return {
      ready: false,
      why: `RuntimeReady is false: ${runtime.reason ?? ""} ${runtime.message ?? ""}`.trim(),
      cgroupDriver,
    };
  }
  return { ready: true, cgroupDriver };
}

/**
 * containerd prints its CRI config: `config.containerd.runtimes.<default>.options.SystemdCgroup`
 * (containerd 1.3/1.4: `config.systemdCgroup`). A runtime that states nothing is not judged.
 */
function driverOf(info: unknown, get: (o: unknown, ...path: string[]) => unknown): CgroupDriver | undefined {
  const name = get(info, "config", "containerd", "defaultRuntimeName");
  const runtime = typeof name === "string" && name ? name : "runc";
  const systemd =
    get(info, "config", "containerd", "runtimes", runtime, "options", "SystemdCgroup") ??
    get(info, "config", "systemdCgroup");
  if (typeof systemd === "boolean") return systemd ? "systemd" : "cgroupfs";
  const driver = get(info, "cgroupDriver") ?? get(info, "config", "cgroupDriver");
  if (typeof driver === "string" && /^(systemd|cgroupfs)$/i.test(driver))
    return driver.toLowerCase() as CgroupDriver;
  return undefined;
}

/** The kubelet's cgroupDriver as its KubeletConfiguration states it; undefined when not stated. */
export function kubeletCgroupDriver(configYaml: string | undefined): CgroupDriver | undefined {
  if (!configYaml) return undefined;
  try {
    const v = (parse(configYaml) as { cgroupDriver?: unknown } | null)?.cgroupDriver;
    return v === "systemd" || v === "cgroupfs" ? v : undefined;
  } catch {
    return undefined;
  }
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-2).join(" ") || "(no output)";
}

export function parseRuntimeProbe(out: string): RuntimeFacts {
  const s = sections(out);
  const images = (s.images ?? "").split("\n");
  const missingImages = images.flatMap((l) => (l.startsWith("missing ") ? [l.slice(8)] : []));
  if ((s.infoExit ?? "").trim() !== "0")
    return { answers: false, error: `crictl info failed: ${lastLines(s.info ?? "")}`, missingImages };
  const info = crictlInfo(s.info ?? "");
  return info.ready
    ? { answers: true, cgroupDriver: info.cgroupDriver, missingImages }
    : { answers: false, error: info.why, cgroupDriver: info.cgroupDriver, missingImages };
}

export async function probeRuntime(host: Host, images: readonly string[]): Promise<RuntimeFacts> {
  const res = await host.exec(runtimeScript(images));
  const facts = parseRuntimeProbe(res.stdout);
  // The answers come in any order; name the images in the manifests' order.
  return { ...facts, missingImages: images.filter((i) => facts.missingImages.includes(i)) };
}

/** A new master's runtime: it answers, its cgroup driver is the kubelet's, its images are there or to pull. */
export function runtimeFindings(h: HostFacts, c: ClusterFacts): Finding[] {
  const r = h.runtime;
  if (!r || !h.containerRuntime) return [];
  const f: Finding[] = [];
  if (!r.answers) {
    f.push({
      severity: "error",
      host: h.name,
      message: `the container runtime does not answer (${r.error ?? "crictl info failed"})`,
      fix: "start it, and check that `crictl info` answers on the host (crictl comes with cri-tools; its runtime-endpoint is set in /etc/crictl.yaml)",
    });
  }
  const kubelet = c.kubeletCgroupDriver;
  if (r.cgroupDriver && kubelet && r.cgroupDriver !== kubelet) {
    f.push({
      severity: "error",
      host: h.name,
      message: `the container runtime uses the ${r.cgroupDriver} cgroup driver, but the kubelet configuration kubeha copies from ${c.primary.name} (/var/lib/kubelet/config.yaml) says cgroupDriver: ${kubelet}`,
      fix:
        kubelet === "systemd"
          ? "set SystemdCgroup = true under the runc runtime's options in /etc/containerd/config.toml and restart containerd"
          : "set SystemdCgroup = false under the runc runtime's options in /etc/containerd/config.toml and restart containerd",
    });
  }
  if (r.answers && r.missingImages.length) {
    f.push({
      severity: "warning",
      host: h.name,
      message: `not present, apply will pull them before changing anything: ${r.missingImages.join(", ")}`,
    });
  }
  return f;
}
