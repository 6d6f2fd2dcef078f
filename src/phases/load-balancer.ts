/**
 * The nginx stream (layer-4) load balancer in front of the apiservers: rendered, installed at nginx's
 * top level (stream.d/, included once from nginx.conf) or, when nginx already has a stream {} block,
 * inside that block (lb-merge.ts), checked with `nginx -t`, reloaded. The
 * previous configuration is kept and put back when the check fails, so a bad change never reaches
 * the running nginx.
 */
import { basename, dirname } from "node:path";
import { InputError, KubehaError } from "../errors.js";
import { checkNginxCopy, NGINX_DIR } from "./nginx-check.js";
import {
  ensureLoadModule,
  ensureStreamInclude,
  needsStreamLoadModule,
  renderNginxStream,
  STREAM_CONF_PATH,
  STREAM_DIR,
} from "../render/nginx.js";
import {
  includeInStreamBlock,
  KUBEHA_UPSTREAM,
  MERGED_BACKUP_DIR,
  MERGED_INCLUDE,
} from "../render/nginx-merge.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Host } from "../ssh/types.js";
import { portsListening } from "../ssh/ports.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { planStreamMerge, type StreamFiles } from "./lb-merge.js";
import { masterOf } from "../inventory/types.js";

export const NGINX_CONF = "/etc/nginx/nginx.conf";
export const UPSTREAM_NAME = KUBEHA_UPSTREAM;

/** What the LB host's nginx looks like now, and what kubeha will make of it. */
type NginxPlan = StreamFiles;

const tailOf = (s: string, n = 6): string => s.trim().split("\n").slice(-n).join(" | ");

async function readText(host: Host, path: string): Promise<string | undefined> {
  return (await host.readFile(path))?.toString("utf8");
}

/** The whole stream {} block (or only its inside) for the three apiservers, as the inventory describes them. */
export function renderedStream(ctx: StepContext, serversOnly = false): string {
  return renderNginxStream({
    serversOnly,
    masters: ctx.masters.map((m) => m.address),
    apiserverPort: ctx.cluster.securePort,
    listenPort: ctx.inventory.loadBalancer.port,
    upstreamName: UPSTREAM_NAME,
  });
}

async function planNginx(ctx: StepContext, name: string): Promise<NginxPlan> {
  const host = ctx.host(name);
  const merge = await planStreamMerge(host, renderedStream(ctx, true), ctx.inventory.loadBalancer.port);
  if (merge) return merge;
  const after = renderedStream(ctx);
  // The reads and probes at once: each is a round trip.
  const [streamBefore, confRead, v, enabled] = await Promise.all([
    readText(host, STREAM_CONF_PATH),
    readText(host, NGINX_CONF),
    host.exec("nginx -V 2>&1"),
    host.exec(
      "ls -l /etc/nginx/modules-enabled/ 2>/dev/null; grep -rhs '^[^#]*load_module' /etc/nginx/nginx.conf /etc/nginx/modules-enabled/ 2>/dev/null; true",
    ),
  ]);
  const confBefore = confRead ?? "";
  const plan: NginxPlan = {
    streamConf: { path: STREAM_CONF_PATH, before: streamBefore, after },
    nginxConf: { path: NGINX_CONF, before: confBefore, after: confBefore },
    moduleNote: "",
  };
  if (!confBefore) {
    plan.problem = `${host.name}: ${NGINX_CONF} is missing or empty: is nginx installed?`;
    return plan;
  }
  const modulesDir = /--modules-path=(\S+)/.exec(v.stdout)?.[1] ?? "/usr/lib/nginx/modules";
  const dir = await host.exec(shellQuote(["ls", modulesDir]));
  const status = needsStreamLoadModule(v.stdout, enabled.stdout, dir.code === 0 ? dir.stdout : "");
  let conf = confBefore;
  try {
    if (status.state === "missing") throw new KubehaError(`${host.name}: ${status.message}`);
    if (status.state === "load") {
      conf = ensureLoadModule(conf, status.modulePath, `${host.name}:${NGINX_CONF}`);
      plan.moduleNote = `load the stream module (${status.loadModule}) at the top of ${NGINX_CONF}`;
    } else {
      plan.moduleNote = `stream module: ${status.state}`;
    }
    conf = ensureStreamInclude(conf, undefined, `${host.name}:${NGINX_CONF}`);
  } catch (err) {
    plan.problem = (err as Error).message;
  }
  plan.nginxConf.after = conf;
  return plan;
}

/** `nginx -T` on `name` names kubeha's upstream with every apiserver, and nginx listens on the LB port. */
export async function nginxServes(ctx: StepContext, name: string): Promise<string | undefined> {
  const lb = ctx.inventory.loadBalancer;
  const host = ctx.host(name);
  const t = await host.exec("nginx -T 2>&1");
  if (t.code !== 0) return `nginx -T failed: ${tailOf(t.stdout)}`;
  if (!t.stdout.includes(`upstream ${UPSTREAM_NAME}`))
    return `nginx -T does not show upstream ${UPSTREAM_NAME}`;
  const missing = ctx.masters.filter((m) => !t.stdout.includes(`${m.address}:${ctx.cluster.securePort}`));
  if (missing.length) return `upstream lacks ${missing.map((m) => m.name).join(", ")}`;
  if (!(await portsListening(host)).has(lb.port)) return `nothing listens on port ${lb.port}`;
  return undefined;
}

/** A configuration that already fails `nginx -t` is the operator's to fix: kubeha changes nothing. */
async function refuseBrokenNginx(host: Host): Promise<void> {
  const pre = await host.exec("nginx -t 2>&1");
  if (pre.code !== 0) {
    throw new InputError(
      `${host.name}: the current nginx configuration already fails \`nginx -t\` (${tailOf(pre.stdout)}); ` +
        `kubeha changed nothing: fix it, then run apply again`,
    );
  }
}

/** `systemctl reload nginx` when systemd runs it, else `nginx -s reload`: never a restart. */
export async function reloadNginx(host: Host): Promise<string> {
  const active = await host.exec("systemctl is-active --quiet nginx");
  const cmd = active.code === 0 ? "systemctl reload nginx" : "nginx -s reload";
  await host.run(cmd, { changes: true });
  return cmd;
}

/**
 * Install the stream configuration on one LB host. The first change of a run: a broken nginx stops
 * the run before anything on the cluster has changed.
 */
export async function nginxStep(ctx: StepContext, name: string): Promise<Step> {
  const lb = ctx.inventory.loadBalancer;
  const master = masterOf(ctx.inventory, name);
  const plan = await planNginx(ctx, name);
  const filesInPlace = async (): Promise<boolean> => {
    const host = ctx.host(name);
    if ((await readText(host, plan.streamConf.path)) !== plan.streamConf.after) return false;
    const conf = (await readText(host, plan.nginxConf.path)) ?? "";
    try {
      return (
        (plan.merged ? includeInStreamBlock(conf, plan.nginxConf.path) : ensureStreamInclude(conf)) === conf
      );
    } catch {
      return false;
    }
  };
  let lastProblem: string | undefined;
  return {
    id: `load-balancer/${name}`,
    phase: "load-balancer",
    host: name,
    title: `nginx stream load balancer on ${name} (port ${lb.port}) in front of ${ctx.masters.map((m) => m.name).join(", ")}`,
    why: "clients must reach whichever apiservers are up through one address; the new configuration is tested on a copy before the run's first change, so a broken nginx stops the run before anything changed",
    // The files written, the reload and the wait are the step's effects, recorded from `run` itself.
    files: [],
    details: [
      ...(plan.problem ? [`PROBLEM (the step will stop here): ${plan.problem}`] : []),
      ...(master && lb.mode === "nginx"
        ? [
            `WARNING: nginx runs on master ${master.name}: the entry point shares its fate (lose ${master.name} and every client loses the API although two apiservers still run)`,
          ]
        : []),
      plan.moduleNote,
      "check the current configuration with `nginx -t` first: a configuration that is already broken is left as it is",
      `before the run's first change: \`nginx -t\` on a copy of ${NGINX_DIR} holding the new files (in /tmp, removed after)`,
      plan.merged
        ? `write ${plan.streamConf.path} (upstream and server only), add \`${MERGED_INCLUDE}\` inside the stream {} block of ${plan.nginxConf.path} (once; its original kept in ${MERGED_BACKUP_DIR}/), nginx -t, then reload (not restart)`
        : `write ${STREAM_CONF_PATH}, include ${STREAM_DIR}/*.conf from ${NGINX_CONF}'s top level (once), nginx -t, then reload (not restart)`,
      "when nginx -t fails, the previous files are put back and nginx keeps running as it was",
    ].filter(Boolean),
    rollback: plan.merged
      ? `on ${name}: remove the line \`${MERGED_INCLUDE}\` (and the kubeha comment above it) from ${plan.nginxConf.path}, or put back ${MERGED_BACKUP_DIR}/${basename(plan.nginxConf.path)}; rm ${plan.streamConf.path}; nginx -t && nginx -s reload`
      : `on ${name}: rm ${STREAM_CONF_PATH}; restore ${NGINX_CONF} from its newest ${NGINX_CONF}.kubeha-*.bak; nginx -t && nginx -s reload`,
    isDone: async (c) => (await filesInPlace()) && (await nginxServes(c, name)) === undefined,
    check: async (c) => {
      const fresh = await planNginx(c, name);
      if (fresh.problem) throw new InputError(`${fresh.problem}; nothing was changed on ${name}`);
      await refuseBrokenNginx(c.host(name));
      await checkNginxCopy(
        c.host(name),
        [fresh.streamConf, fresh.nginxConf]
          .filter((f) => f.after !== f.before)
          .map((f) => ({ path: f.path, content: f.after })),
      );
    },
    run: async (c) => {
      const host = c.host(name);
      const fresh = await planNginx(c, name);
      if (fresh.problem) throw new KubehaError(`${fresh.problem}; nothing was changed on ${name}`);
      await refuseBrokenNginx(host);
      await host.run(shellQuote(["mkdir", "-p", dirname(fresh.streamConf.path)]), { changes: true });
      const stream = fresh.streamConf.path;
      const conf = fresh.nginxConf.path;
      const wrote: string[] = [];
      // Put back exactly what was replaced; nginx itself was never reloaded with the new files.
      const restore = async (): Promise<void> => {
        if (wrote.includes(stream)) {
          if (fresh.streamConf.before === undefined)
            await host.exec(shellQuote(["rm", "-f", stream]), { changes: true });
          else await host.writeFile(stream, fresh.streamConf.before, { mode: 0o644 });
        }
        if (wrote.includes(conf)) await host.writeFile(conf, fresh.nginxConf.before, { mode: 0o644 });
      };
      let checked: { code: number; stdout: string };
      try {
        if (fresh.streamConf.before !== fresh.streamConf.after) {
          wrote.push(stream);
          await host.writeFile(stream, fresh.streamConf.after, { mode: 0o644, backup: true });
        }
        if (fresh.nginxConf.after !== fresh.nginxConf.before) {
          wrote.push(conf);
          // Not next to it: a directory included by glob would read a backup as a second stream {}.
          const backup = fresh.merged ? { dir: MERGED_BACKUP_DIR } : true;
          await host.writeFile(conf, fresh.nginxConf.after, { mode: 0o644, backup });
        }
        checked = await host.exec("nginx -t 2>&1", { checksWrites: true });
      } catch (err) {
        await restore().catch(() => undefined);
        throw err;
      }
      if (checked.code !== 0) {
        await restore();
        throw new KubehaError(
          `${name}: nginx -t rejected the new configuration (${tailOf(checked.stdout)}); ` +
            `the previous files were put back and nginx keeps running as it was`,
        );
      }
      const how = await reloadNginx(host);
      c.reporter.step(name, `nginx: ${wrote.length ? `wrote ${wrote.join(", ")}; ` : ""}${how}`);
      await c.until(
        async () => (lastProblem = await nginxServes(c, name)) === undefined,
        {
          timeoutMs: 20_000,
          what: `nginx on ${name} to serve port ${lb.port}`,
          lastError: () => lastProblem ?? "",
        },
        name,
      );
    },
    verify: async (c) => {
      const problem = await nginxServes(c, name);
      if (problem) throw new KubehaError(`${name}: ${problem}`);
      return `port ${c.inventory.loadBalancer.port} → ${c.masters.map((m) => m.name).join(", ")}`;
    },
  };
}
