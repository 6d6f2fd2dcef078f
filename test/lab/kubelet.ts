/**
 * kubelet stand-in: `node dist/test/lab/kubelet.js [--manifests /etc/kubernetes/manifests]
 *   [--root-dir /var/lib/kubelet | --state-dir /var/lib/kubelet/standin] [--log-dir /var/log/pods]
 *   [--pid-file /run/kubelet-standin.pid] [--kubeconfig /etc/kubernetes/kubelet.conf]
 *   [--host-json /etc/kubeha-lab/host.json] [--etcd /usr/bin/etcd] [--real-binaries <cache>]`
 * Runs static pods (kubelet-pods.ts) from every non-hidden file in the manifests directory, whatever
 * its name (two files defining one pod: neither runs, and an error is logged); reports the Node
 * (kubelet-node.ts), serves healthz on 127.0.0.1:10248. SIGHUP = `systemctl restart kubelet`: re-register, pods keep running, then
 * /run/kubelet-standin.registered is rewritten (the shim waits for it). SIGTERM/SIGINT: stop every
 * pod, then exit.
 */
import { existsSync, readdirSync, readFileSync, rmSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeReporter } from "./kubelet-node.js";
import { syncMirrorPods, type StaticPod } from "./kubelet-mirror.js";
import { loadKubeconfig } from "./standin-kubeconfig.js";
import { DUPLICATE_POD_ERROR, Pod, parseManifest, type PodSpec, type PodState } from "./kubelet-pods.js";
import { errorText, parseFlags } from "./standin-flags.js";

const f = parseFlags(process.argv.slice(2));
const manifests = f.get("manifests") ?? "/etc/kubernetes/manifests";
const rootDir = f.get("root-dir") ?? "/var/lib/kubelet";
const stateDir = f.get("state-dir") ?? join(rootDir, "standin");
const logDir = f.get("log-dir") ?? "/var/log/pods";
const pidFile = f.get("pid-file") ?? "/run/kubelet-standin.pid";
const registeredFile = pidFile.replace(/\.pid$/, "") + ".registered";
const launchers = {
  etcd: f.get("etcd") ?? "/usr/bin/etcd",
  standins: dirname(fileURLToPath(import.meta.url)),
  real: f.get("real-binaries"),
};

const kubeconfig = f.get("kubeconfig") ?? "/etc/kubernetes/kubelet.conf";
const node = new NodeReporter(kubeconfig, f.get("host-json") ?? "/etc/kubeha-lab/host.json", rootDir);
const pods = new Map<string, Pod>();
/** Parsed manifests by file, reused while the file's content is unchanged. */
const parsed = new Map<string, { text: string; spec?: PodSpec }>();
/** The static pods running now, for their mirror pods. */
let running: StaticPod[] = [];

/** The duplicate-pod error last logged: logged when it changes, not on every scan. */
let duplicateReport = "";

function scan(): void {
  const files = existsSync(manifests) ? readdirSync(manifests).filter((n) => !n.startsWith(".")) : [];
  // Every file, whatever its name, as the kubelet reads them: which files define each pod (namespace/name).
  const byPod = new Map<string, { spec: PodSpec; files: string[]; text: string }>();
  for (const name of files.sort()) {
    const file = join(manifests, name);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // a directory, or removed between readdir and read
    }
    let entry = parsed.get(file);
    if (entry?.text !== text) {
      entry = { text };
      try {
        entry.spec = parseManifest(text, launchers);
      } catch (err) {
        // As the kubelet does: a manifest it cannot use is logged and skipped.
        console.log(`manifest ${file}: ${errorText(err)}; skipped`);
      }
      parsed.set(file, entry);
    }
    if (!entry.spec) continue;
    const key = `${entry.spec.namespace}/${entry.spec.pod}`;
    const seen = byPod.get(key);
    if (seen) seen.files.push(file);
    else byPod.set(key, { spec: entry.spec, files: [file], text });
  }
  for (const file of parsed.keys())
    if (!files.includes(file.slice(manifests.length + 1))) parsed.delete(file);
  // Two files defining one pod: which one the real kubelet runs is undefined, and may be the outdated
  // copy (kubernetes/kubernetes#136962). The stand-in fails loudly instead of picking one: it runs
  // neither and logs an error line a test looks for, so a stray copy (a backup, a temp file) in the
  // directory fails the test rather than passing because the right file happened to sort first.
  const wanted = new Map<string, PodSpec>();
  const texts = new Map<string, string>();
  const duplicates: string[] = [];
  for (const [key, { spec, files: defining, text }] of byPod) {
    if (defining.length > 1) duplicates.push(`pod ${key} is defined by ${defining.join(" and ")}`);
    else {
      wanted.set(key, spec);
      texts.set(key, text);
    }
  }
  const report = duplicates.join("; ");
  if (report !== duplicateReport) {
    console.log(
      report ? `${DUPLICATE_POD_ERROR}: ${report}; running none of them` : "duplicate static pods gone",
    );
    duplicateReport = report;
  }
  running = [...wanted].map(([key, s]) => ({ pod: s.pod, hash: s.hash, text: texts.get(key) ?? "" }));
  for (const [key, pod] of pods) if (!wanted.has(key)) void pod.want(undefined);
  for (const [key, spec] of wanted) {
    let pod = pods.get(key);
    if (!pod)
      pods.set(key, (pod = new Pod(spec.pod, { state: stateDir, logs: logDir, node: node.nodeName })));
    void pod.want(spec);
  }
}

/**
 * Containers a previous, crashed instance left running would hold etcd's ports and data dir: stop
 * those recorded in the state files whose process still runs the recorded binary.
 */
function stopOrphans(): void {
  if (!existsSync(stateDir)) return;
  for (const name of readdirSync(stateDir).filter((n) => n.endsWith(".json"))) {
    try {
      const s = JSON.parse(readFileSync(join(stateDir, name), "utf8")) as PodState;
      if (!s.pid || !s.command[0]) continue;
      const cmdline = readFileSync(`/proc/${s.pid}/cmdline`, "utf8").split("\0");
      if (cmdline.filter(Boolean).join(" ") !== s.command.join(" ")) continue;
      console.log(`stopping pod ${s.pod} (pid ${s.pid}) left by a previous kubelet stand-in`);
      process.kill(s.pid, "SIGKILL");
    } catch {
      // process gone or state unreadable: nothing to stop
    }
  }
}

function writeRegistered(outcome: string): void {
  writeFileSync(registeredFile, `${new Date().toISOString()} ${outcome}\n`);
}

stopOrphans();
writeFileSync(pidFile, `${process.pid}\n`);
let watcher: FSWatcher | undefined;
try {
  watcher = watch(manifests, () => scan());
} catch {
  // no manifests dir yet: polling picks it up once it exists
}
const poll = setInterval(scan, 250);
// Only the real flavour keeps mirror pods: the apiserver stand-in stores no pods.
let mirroring = false;
const mirrors = launchers.real
  ? setInterval(() => {
      if (mirroring || !existsSync(kubeconfig)) return;
      mirroring = true;
      syncMirrorPods(loadKubeconfig(kubeconfig), node.nodeName, running)
        .catch((err) => console.log(`mirror pods: ${errorText(err)}`))
        .finally(() => (mirroring = false));
    }, 3000)
  : undefined;
scan();
void node.reload().then((outcome) => {
  console.log(outcome);
  writeRegistered(outcome);
});
node.start();
// The kubelet's healthz port, which kubeadm waits on (join's kubelet-wait-bootstrap).
const healthz = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404).end(req.url === "/healthz" ? "ok" : "not found");
});
healthz.on("error", (err) => console.log(`healthz on 127.0.0.1:10248: ${err.message}`));
healthz.listen(10248, "127.0.0.1");
console.log(`kubelet stand-in pid ${process.pid} watching ${manifests}`);

process.on("SIGHUP", () => {
  console.log("SIGHUP: reloading kubelet.conf and host.json");
  void node.reload().then((outcome) => {
    console.log(outcome);
    writeRegistered(outcome);
  });
});

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(poll);
    clearInterval(mirrors);
    watcher?.close();
    healthz.close();
    node.stop();
    void Promise.all([...pods.values()].map((p) => p.want(undefined))).then(() => {
      rmSync(pidFile, { force: true });
      console.log("kubelet stand-in stopped");
      process.exit(0);
    });
  });
}
