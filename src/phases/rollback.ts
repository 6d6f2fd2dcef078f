/**
 * The rollback's own steps, beside the shared ones (client steps aimed at the primary, retire.ts):
 * kubeadm-config's endpoint and SANs restored from the backup, the load balancer's configuration
 * taken out of nginx, and the primary's original apiserver certificate put back.
 */
import { X509Certificate } from "node:crypto";
import { basename, posix } from "node:path";
import { InputError, KubehaError } from "../errors.js";
import type { OriginalState } from "../backup/original.js";
import { servedCertificate } from "../cluster/tls.js";
import { objectPath } from "../kube/client.js";
import type { ConfigMap } from "../kube/types.js";
import { kubeadmConfigRestore } from "../render/kubeadm-config-restore.js";
import { STREAM_CONF_PATH } from "../render/nginx.js";
import {
  MERGED_BACKUP_DIR,
  MERGED_CONF_PATH,
  MERGED_INCLUDE,
  OWN_STREAM_FILES,
} from "../render/nginx-merge.js";
import type { Host } from "../ssh/types.js";
import { timestamp } from "../ssh/files.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Step } from "../engine/step.js";
import { updateObject } from "./clients.js";
import type { StepContext } from "../engine/step-context.js";
import { primaryKube } from "./kubelet.js";
import { planStreamUnmerge } from "./lb-merge.js";
import { reloadNginx } from "./load-balancer.js";
import { portsListening } from "../ssh/ports.js";

const KUBEADM_CONFIG = objectPath("configmaps", "kubeadm-config", "kube-system");

/** controlPlaneEndpoint and apiServer.certSANs as the backup has them; nothing else changes. */
export async function kubeadmConfigRestoreStep(ctx: StepContext, original: OriginalState): Promise<Step> {
  const edit = (cm: ConfigMap) =>
    kubeadmConfigRestore(cm.data?.ClusterConfiguration ?? "", original.clusterConfiguration);
  const now = await (await primaryKube(ctx)).getOptional<ConfigMap>(KUBEADM_CONFIG).catch(() => undefined);
  const preview = now && edit(now);
  return {
    id: "rollback/clients/kubeadm-config",
    phase: "clients",
    host: "cluster",
    title: "kube-system/kubeadm-config: controlPlaneEndpoint and certSANs as before the conversion",
    why: "kubeadm join and upgrade read the control-plane endpoint from here: it must not name a load balancer that is gone",
    files: [],
    details: [
      `from ${posix.join(original.dir, "configmap-kube-system-kubeadm-config.json")}; every other field stays as it is now`,
      ...(preview?.changed
        ? preview.diff
            .split("\n")
            .filter(Boolean)
            .map((l) => `  ${l}`)
        : ["  unchanged"]),
    ],
    rollback: "kubeha apply sets controlPlaneEndpoint and the LB's certSANs again",
    isDone: async (c) => !edit(await (await primaryKube(c)).get<ConfigMap>(KUBEADM_CONFIG)).changed,
    run: async (c) => {
      await updateObject<ConfigMap>(await primaryKube(c), KUBEADM_CONFIG, (cm) => {
        const r = edit(cm);
        if (!r.changed) return false;
        cm.data = { ...cm.data, ClusterConfiguration: r.text };
        return true;
      });
    },
    verify: async (c) => {
      if (edit(await (await primaryKube(c)).get<ConfigMap>(KUBEADM_CONFIG)).changed)
        throw new KubehaError("kube-system/kubeadm-config still differs from the backup's endpoint and SANs");
    },
  };
}

/**
 * kubeha's stream {} configuration taken out of nginx, checked with `nginx -t`, nginx reloaded. Its
 * own file is moved out of every directory nginx includes; merged into the operator's stream {} block,
 * the include and its comment are taken out of the operator's file too (every other line as it is now).
 * In kubeha's own layout the include line in nginx.conf stays and matches nothing.
 */
export async function loadBalancerRemoveStep(ctx: StepContext, name: string): Promise<Step> {
  const lb = ctx.inventory.loadBalancer;
  const stamp = timestamp(ctx.started);
  const keptDir = `${MERGED_BACKUP_DIR}/rollback-${stamp}`;
  const kept = (f: string) =>
    f === STREAM_CONF_PATH
      ? `/etc/nginx/kubeha-apiservers.conf.kubeha-${stamp}.bak`
      : `${keptDir}/${basename(f)}`;
  const present = async (host: Host) => {
    const found = await Promise.all(
      OWN_STREAM_FILES.map(async (f) => (await host.readFile(f)) !== undefined),
    );
    return OWN_STREAM_FILES.filter((_, i) => found[i]);
  };
  const unmerge = await planStreamUnmerge(ctx.host(name));
  const own = await present(ctx.host(name));
  const moves = (own.length ? own : [STREAM_CONF_PATH]).map(
    (f) => `mv ${f} ${kept(f)} (outside every directory nginx includes)`,
  );
  return {
    id: `rollback/load-balancer/${name}`,
    phase: "load-balancer",
    host: name,
    title: `remove kubeha's load balancer configuration from nginx on ${name}`,
    why: "nothing points at the load balancer any more: its upstreams name masters that no longer run a control plane",
    // The files written and moved, the reload and the wait are recorded from `run` itself.
    files: [],
    details: [
      ...(unmerge
        ? [
            `take \`${MERGED_INCLUDE}\` and kubeha's comment above it out of the stream {} block of ${unmerge.path} (its other lines stay as they are now; the file as it is now kept in ${keptDir}/)`,
          ]
        : []),
      ...moves,
      "nginx -t, then reload (not restart); when nginx -t fails, the files are put back",
      ...(unmerge
        ? []
        : [
            `the include of ${posix.dirname(STREAM_CONF_PATH)}/*.conf in nginx.conf stays (it matches no file)`,
          ]),
    ],
    rollback: unmerge
      ? `on ${name}: put back ${keptDir}/${basename(unmerge.path)} as ${unmerge.path} and ${keptDir}/${basename(MERGED_CONF_PATH)} as ${MERGED_CONF_PATH}; nginx -t && nginx -s reload`
      : `on ${name}: mv ${kept(STREAM_CONF_PATH)} ${STREAM_CONF_PATH}; nginx -t && nginx -s reload`,
    isDone: async (c) => {
      const host = c.host(name);
      return (
        (await present(host)).length === 0 &&
        (await planStreamUnmerge(host)) === undefined &&
        !(await portsListening(host)).has(lb.port)
      );
    },
    run: async (c) => {
      const host = c.host(name);
      // The include first: a kill between the two leaves kubeha's file unused, never an include of a missing file.
      const fresh = await planStreamUnmerge(host);
      if (fresh) await host.writeFile(fresh.path, fresh.after, { mode: 0o644, backup: { dir: keptDir } });
      const files = await present(host);
      for (const f of files)
        await host.run(
          shellQuote(["sh", "-c", 'mkdir -p "$(dirname "$2")" && mv -f "$1" "$2"', "sh", f, kept(f)]),
          { changes: true },
        );
      const t = fresh || files.length ? await host.exec("nginx -t 2>&1") : { code: 0, stdout: "" };
      if (t.code !== 0) {
        for (const f of files) await host.run(shellQuote(["mv", "-f", kept(f), f]), { changes: true });
        if (fresh) await host.writeFile(fresh.path, fresh.before, { mode: 0o644 });
        throw new KubehaError(
          `${name}: nginx -t fails without kubeha's configuration (${t.stdout.trim().split("\n").slice(-2).join(" | ")}); it was put back, nginx was not reloaded`,
        );
      }
      const what = [
        ...(fresh ? [`kubeha's include taken out of ${fresh.path}`] : []),
        ...files.map((f) => `${f} moved to ${kept(f)}`),
      ];
      c.reporter.step(name, `nginx: ${what.length ? `${what.join("; ")}; ` : ""}${await reloadNginx(host)}`);
      await c.until(async () => !(await portsListening(host)).has(lb.port), {
        timeoutMs: 20_000,
        what: `nginx on ${name} to stop listening on port ${lb.port}`,
      });
    },
    verify: async (c) => {
      if ((await portsListening(c.host(name))).has(lb.port))
        throw new KubehaError(`${name}: something still listens on port ${lb.port}`);
    },
  };
}

function sameCert(served: X509Certificate, pem: string): boolean {
  return served.raw.equals(new X509Certificate(pem).raw);
}

/** The primary's apiserver.crt and .key from the backup; the apiserver reloads them from disk. */
export function primaryCertRestoreStep(ctx: StepContext, original: OriginalState): Step {
  const node = ctx.inventory.primary;
  const dir = ctx.cluster.certificatesDir;
  const crt = posix.join(dir, "apiserver.crt");
  const key = posix.join(dir, "apiserver.key");
  const onDisk = async (c: StepContext): Promise<boolean> => {
    const host = c.host(node.name);
    const [a, b] = await Promise.all([host.readFile(crt), host.readFile(key)]);
    return a?.toString("utf8") === original.apiserverCrt && b?.toString("utf8") === original.apiserverKey;
  };
  const served = async (c: StepContext): Promise<boolean> =>
    sameCert(await servedCertificate(c.host(node.name), c.cluster.securePort), original.apiserverCrt);
  const subject = new X509Certificate(original.apiserverCrt);
  // After a `replace` of the primary, the oldest backup is another host's: never put it on this one.
  if (subject.checkIP(node.address.replace(/^\[|\]$/g, "")) === undefined) {
    throw new InputError(
      `${original.dir}: its apiserver certificate is not ${node.name}'s (not valid for ${node.address}); the backup is of another primary: nothing was changed`,
    );
  }
  return {
    id: `rollback/pki/${node.name}/apiserver`,
    phase: "pki",
    host: node.name,
    title: `put back ${node.name}'s original apiserver certificate (from the backup)`,
    why: "the certificate kubeha issued names the load balancer, which is gone; the original is the one the cluster had",
    // The certificate and key written are recorded from `run` itself (described by what they hold).
    files: [],
    details: [
      `from ${posix.join(original.dir, "etc-kubernetes.tar.gz")}; the files they replace are kept as *.kubeha-<time>.bak`,
      "wait until the apiserver serves it (it reloads its serving certificate from disk)",
    ],
    rollback: `kubeha apply re-issues it with the load balancer's names`,
    isDone: async (c) => (await onDisk(c)) && (await served(c)),
    run: async (c) => {
      const host = c.host(node.name);
      if (!(await onDisk(c))) {
        // The key first: a certificate without its key would fail the apiserver's reload.
        await host.writeFile(key, original.apiserverKey, { mode: 0o600, backup: true });
        await host.writeFile(crt, original.apiserverCrt, { mode: 0o644, backup: true });
      }
      await c.until(() => served(c).catch(() => false), {
        timeoutMs: 60_000,
        what: `${node.name}'s apiserver to serve the original certificate`,
      });
    },
    verify: async (c) => {
      if (!(await onDisk(c)) || !(await served(c)))
        throw new KubehaError(`${node.name}: the apiserver does not serve the original certificate`);
    },
  };
}
