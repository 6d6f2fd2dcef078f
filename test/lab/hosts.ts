// A lab host: a network namespace plus a private mount and UTS namespace in which per-host
// directories are bind-mounted over the system paths a kubeadm node owns.
import { chmod, chown, copyFile, cp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { alive, run, startDaemon, waitFor, type ExecResult } from "./proc.js";

/** "spare": a clean host outside the inventory, for tests that add or replace a master (or `kubeadm join` one). */
export type LabRole = "primary" | "master" | "loadBalancer" | "worker" | "spare";

export interface LabHost {
  name: string;
  role: LabRole;
  address: string;
  /** The host's network namespace (`ip netns exec <ns>`). */
  ns: string;
  sshUser: "root" | "kubeha";
  /** Privileged commands go through `sudo -n` (kubeha hosts). */
  sudo: boolean;
  /** Per-host directory in the lab dir holding everything mounted into the host. */
  dir: string;
}

/** The repository root, from dist/test/lab/hosts.js. */
export const REPO = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
export const LAB_UID = 4242;

/** Host path -> per-host subdirectory bind-mounted over it. */
const DIR_MOUNTS: Record<string, string> = {
  "/etc/kubernetes": "etc-kubernetes",
  "/var/lib/etcd": "var-lib-etcd",
  "/var/lib/kubelet": "var-lib-kubelet",
  "/var/log/pods": "var-log-pods",
  "/etc/kubeha-lab": "kubeha-lab",
  "/etc/sudoers.d": "sudoers.d",
  "/usr/local/bin": "bin",
};
const LB_MOUNTS: Record<string, string> = {
  "/etc/nginx": "etc-nginx",
  "/var/log/nginx": "var-log-nginx",
  "/var/lib/nginx": "var-lib-nginx",
  "/etc/keepalived": "etc-keepalived",
};
const FILE_MOUNTS = ["passwd", "group", "shadow", "hosts"];

export interface HostSetup {
  /** Lines for the host's /etc/hosts (every lab host). */
  hostsFile: string;
  /** kubeha's sudo asks for a password on this host (error-path tests). */
  sudoAsksPassword: boolean;
  lbWithoutStream: boolean;
  /** The host runs nginx (an LB host, or a master that carries the LB). */
  nginx: boolean;
  /** What `kubelet --version` says on this host: the cluster's version unless a test wants a mismatch. */
  kubeletVersion: string;
  /** What the host's container runtime (the crictl shim) answers. */
  runtime: LabRuntime;
  /** The control-plane images; present on the host unless `runtime.images` is "none". */
  images: string[];
}

/** A host's container runtime in the lab: by default up, systemd cgroups, every image present. */
export interface LabRuntime {
  /** `crictl` cannot reach the runtime (connection refused). */
  down?: boolean;
  cgroupDriver?: "systemd" | "cgroupfs";
  /** No image present yet ("none"), so apply must pull them. */
  images?: "all" | "none";
  /** `crictl pull` fails with a registry error. */
  pullFails?: boolean;
}

/** Writes what the crictl shim answers on a host (/etc/kubeha-lab/runtime.json and images). */
export async function writeRuntime(h: LabHost, runtime: LabRuntime, images: string[]): Promise<void> {
  const { images: which, ...rest } = runtime;
  await writeFile(join(h.dir, "kubeha-lab/runtime.json"), JSON.stringify(rest));
  await writeFile(
    join(h.dir, "kubeha-lab/images"),
    which === "none" ? "" : images.map((i) => `${i}\n`).join(""),
  );
}

/** Writes the host's directory tree, account files, sudoers, host.json and init script. */
export async function prepareHost(h: LabHost, setup: HostSetup): Promise<void> {
  const mounts = { ...DIR_MOUNTS, ...(setup.nginx ? LB_MOUNTS : {}) };
  await Promise.all(Object.values(mounts).map((d) => mkdir(join(h.dir, d), { recursive: true })));
  await mkdir(join(h.dir, "etc-kubernetes/manifests"), { recursive: true });
  await chmod(join(h.dir, "var-lib-etcd"), 0o700);
  await writeAccounts(h);
  await writeFile(join(h.dir, "hosts"), `127.0.0.1 localhost\n::1 localhost\n${setup.hostsFile}`);
  // Each host is its own machine to kubeha's identity check, as real machines are.
  await writeFile(join(h.dir, "machine-id"), `${randomBytes(16).toString("hex")}\n`, { mode: 0o444 });
  await writeSudoers(h, setup.sudoAsksPassword);
  await writeFile(
    join(h.dir, "kubeha-lab/host.json"),
    JSON.stringify(
      { name: h.name, address: h.address, role: h.role, kubeletVersion: setup.kubeletVersion, repo: REPO },
      null,
      2,
    ),
  );
  await writeRuntime(h, setup.runtime, setup.images);
  await installShims(h);
  if (setup.nginx) await prepareNginx(h, setup.lbWithoutStream);
  await writeFile(join(h.dir, "init.sh"), initScript(h, mounts, setup.nginx && setup.lbWithoutStream));
}

/** Per-host copies of the account databases with the `kubeha` user added, so /etc is never changed. */
async function writeAccounts(h: LabHost): Promise<void> {
  const home = join(h.dir, "home");
  await mkdir(home, { recursive: true });
  await chown(home, LAB_UID, LAB_UID);
  const passwd = (await readFile("/etc/passwd", "utf8")).replace(/\n?$/, "\n");
  await writeFile(
    join(h.dir, "passwd"),
    `${passwd}kubeha:x:${LAB_UID}:${LAB_UID}:kubeha lab user:${home}:/bin/bash\n`,
  );
  const group = (await readFile("/etc/group", "utf8")).replace(/\n?$/, "\n");
  await writeFile(join(h.dir, "group"), `${group}kubeha:x:${LAB_UID}:\n`);
  // `*` (no password, not locked): sshd refuses key logins for accounts locked with `!`.
  const shadow = (await readFile("/etc/shadow", "utf8"))
    .replace(/^root:[^:]*:/m, "root:*:")
    .replace(/\n?$/, "\n");
  await writeFile(join(h.dir, "shadow"), `${shadow}kubeha:*:19000:0:99999:7:::\n`, { mode: 0o640 });
}

async function writeSudoers(h: LabHost, asksPassword: boolean): Promise<void> {
  if (h.sshUser !== "kubeha") return;
  const rule = asksPassword ? "kubeha ALL=(ALL) ALL\n" : "kubeha ALL=(ALL) NOPASSWD:ALL\n";
  await writeFile(join(h.dir, "sudoers.d/kubeha"), rule, { mode: 0o440 });
}

/** Copies A2's shims (systemctl, crictl, ...) into the host's /usr/local/bin. */
export async function installShims(h: LabHost): Promise<void> {
  const src = join(REPO, "test/lab/shims");
  if (!existsSync(src)) return;
  for (const f of await readdir(src)) {
    await copyFile(join(src, f), join(h.dir, "bin", f));
    await chmod(join(h.dir, "bin", f), 0o755);
  }
}

/** A private copy of the machine's nginx config; optionally a module dir without the stream module. */
async function prepareNginx(h: LabHost, withoutStream: boolean): Promise<void> {
  await cp("/etc/nginx", join(h.dir, "etc-nginx"), { recursive: true, verbatimSymlinks: true });
  if (!withoutStream) return;
  await rm(join(h.dir, "etc-nginx/modules-enabled/50-mod-stream.conf"), { force: true });
  await mkdir(join(h.dir, "nginx-modules"));
  for (const f of await readdir("/usr/lib/nginx/modules")) {
    if (!f.includes("stream"))
      await copyFile(join("/usr/lib/nginx/modules", f), join(h.dir, "nginx-modules", f));
  }
}

function initScript(h: LabHost, mounts: Record<string, string>, lbWithoutStream: boolean): string {
  const lines = [
    "set -e",
    `D=${h.dir}`,
    `hostname ${h.name}`,
    // kubeadm's preflight wants forwarding on; net.ipv4 sysctls are per network namespace.
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
    // Private /run: sshd's privilege-separation dir, pid files, sudo timestamps.
    "mount -t tmpfs -o mode=755 tmpfs /run",
    "mkdir -p /run/sshd",
    ...Object.entries(mounts).map(([target, sub]) => `mount --bind "$D/${sub}" ${target}`),
    ...FILE_MOUNTS.map((f) => `mount --bind "$D/${f}" /etc/${f}`),
    // Only over an existing file: nothing is ever created in the machine's own /etc.
    `if [ -e /etc/machine-id ]; then mount --bind "$D/machine-id" /etc/machine-id; fi`,
  ];
  if (lbWithoutStream) lines.push(`mount --bind "$D/nginx-modules" /usr/lib/nginx/modules`);
  // The pid file doubles as the ready marker; $$ becomes sleep's PID through exec.
  lines.push(`echo $$ > "$D/init.pid"`, "exec sleep infinity");
  return lines.join("\n") + "\n";
}

/** Mountpoints that may be missing on the real root (created empty, once; never removed). */
export async function ensureMountpoints(): Promise<void> {
  await Promise.all(
    [...Object.keys(DIR_MOUNTS), ...Object.keys(LB_MOUNTS)].map((p) => mkdir(p, { recursive: true })),
  );
}

/**
 * Starts the host's anchor process (unshare holding the mount+UTS namespaces inside the
 * host's netns) and waits for init.sh to finish its mounts. unshare ignores SIGTERM while
 * it waits for its child, so the child (init.sh, exec'd into sleep) is returned too: stopping
 * it ends both.
 */
export async function startHost(h: LabHost): Promise<{ anchor: number; child: number }> {
  const pid = startDaemon(
    [
      "ip",
      "netns",
      "exec",
      h.ns,
      "unshare",
      "--mount",
      "--uts",
      "--propagation",
      "private",
      "--fork",
      "--kill-child",
      "--",
      "sh",
      join(h.dir, "init.sh"),
    ],
    join(h.dir, "init.log"),
  );
  const child = await waitFor(
    `${h.name} init (see ${h.dir}/init.log)`,
    10_000,
    async () => {
      const text = await readFile(join(h.dir, "init.pid"), "utf8").catch(() => "");
      if (text.endsWith("\n")) return Number(text);
      if (!alive(pid)) throw new Error(await readFile(join(h.dir, "init.log"), "utf8"));
      return undefined;
    },
    20,
  );
  return { anchor: pid, child };
}

/** argv prefix entering a host's net, mount and UTS namespaces through its anchor PID. */
export function enterArgs(anchorPid: number): string[] {
  return ["nsenter", "-t", String(anchorPid), "-n", "-m", "-u", "--"];
}

export function hostExec(anchorPid: number, argv: string[], stdin?: string | Buffer): Promise<ExecResult> {
  return run([...enterArgs(anchorPid), ...argv], { stdin });
}

/** Starts a long-running process inside the host; returns its PID (nsenter execs, no fork). */
export function startInHost(anchorPid: number, argv: string[], logFile: string): number {
  return startDaemon([...enterArgs(anchorPid), ...argv], logFile);
}
