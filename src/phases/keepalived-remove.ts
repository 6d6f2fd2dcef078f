/**
 * The rollback's undoing of keepalived mode on one LB host: the keepalived.conf that was there before
 * kubeha's put back (keepalived reloaded, it keeps serving the operator's own addresses), or, when
 * kubeha's was the first, keepalived stopped and disabled and kubeha's file moved aside. Either way
 * the host lets go of the API's virtual address.
 */
import { KubehaError } from "../errors.js";
import { KEEPALIVED_CONF } from "../render/keepalived.js";
import { timestamp } from "../ssh/files.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Host } from "../ssh/types.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { vipHolders } from "./keepalived.js";

/** kubeha's keepalived.conf names its VRRP router kubeha_<host> (templates/keepalived.conf.hbs). */
const KUBEHAS = /^\s*router_id\s+kubeha_/m;

const text = (b: Buffer | undefined) => b?.toString("utf8");

/** The oldest backup kubeha made of keepalived.conf, when it is the operator's (not kubeha's own). */
async function operatorsConf(host: Host): Promise<{ path: string; text: string } | undefined> {
  const ls = await host.exec(`ls -1 ${KEEPALIVED_CONF}.kubeha-*.bak 2>/dev/null | sort`);
  const oldest = ls.stdout.split("\n").find(Boolean);
  const t = oldest === undefined ? undefined : text(await host.readFile(oldest));
  return oldest !== undefined && t !== undefined && !KUBEHAS.test(t) ? { path: oldest, text: t } : undefined;
}

async function active(host: Host): Promise<boolean> {
  return (await host.exec("systemctl is-active --quiet keepalived")).code === 0;
}

export async function keepalivedRemoveStep(ctx: StepContext, name: string): Promise<Step> {
  const lb = ctx.inventory.loadBalancer;
  const kept = `${KEEPALIVED_CONF}.kubeha-${timestamp(ctx.started)}.bak`;
  const original = await operatorsConf(ctx.host(name));
  const settled = async (c: StepContext): Promise<boolean> => {
    const host = c.host(name);
    const conf = text(await host.readFile(KEEPALIVED_CONF));
    const rest = original ? conf === original.text : conf === undefined && !(await active(host));
    return rest && !(await vipHolders(c)).includes(name);
  };
  return {
    id: `rollback/keepalived/${name}`,
    phase: "load-balancer",
    host: name,
    title: original
      ? `keepalived on ${name}: its configuration from before kubeha put back`
      : `keepalived on ${name}: stopped, kubeha's configuration moved aside`,
    why: `nothing uses the virtual address ${lb.address} any more; keepalived must let go of it before nginx stops serving the API`,
    // The file put back (or moved aside) and keepalived's reload are recorded from `run` itself.
    files: [],
    details: original
      ? [
          `${KEEPALIVED_CONF} from ${original.path} (the file kubeha replaced), keepalived -t, systemctl reload keepalived if it runs`,
        ]
      : [
          "systemctl stop keepalived; systemctl disable keepalived (kubeha's configuration was its first)",
          `mv ${KEEPALIVED_CONF} ${kept}`,
        ],
    rollback: `kubeha apply configures keepalived again`,
    isDone: settled,
    run: async (c) => {
      const host = c.host(name);
      let how: string;
      if (original) {
        const before = text(await host.readFile(KEEPALIVED_CONF));
        await host.writeFile(KEEPALIVED_CONF, original.text, { mode: 0o644, backup: true });
        const t = await host.exec(`keepalived -t -f ${KEEPALIVED_CONF} 2>&1`);
        if (t.code !== 0) {
          if (before !== undefined) await host.writeFile(KEEPALIVED_CONF, before, { mode: 0o644 });
          throw new KubehaError(
            `${name}: keepalived -t rejects ${original.path} (${t.stdout.trim().split("\n").slice(-2).join(" | ")}); kubeha's configuration was put back`,
          );
        }
        how = (await active(host)) ? "systemctl reload keepalived" : "";
        if (how) await host.run(how, { changes: true });
        how = `${KEEPALIVED_CONF} put back from ${original.path}${how ? `; ${how}` : ""}`;
      } else {
        await host.run("systemctl stop keepalived && systemctl disable keepalived", { changes: true });
        if ((await host.readFile(KEEPALIVED_CONF)) !== undefined)
          await host.run(shellQuote(["mv", "-f", KEEPALIVED_CONF, kept]), { changes: true });
        how = `stopped and disabled; ${KEEPALIVED_CONF} moved to ${kept}`;
      }
      c.reporter.step(name, `keepalived: ${how}`);
      await c.until(async () => !(await vipHolders(c)).includes(name), {
        timeoutMs: 20_000,
        what: `${name} to let go of the virtual address ${lb.address}`,
      });
    },
    verify: async (c) => {
      if (!(await settled(c)))
        throw new KubehaError(`${name}: keepalived still holds ${lb.address} or runs kubeha's configuration`);
    },
  };
}
