import { mkdir, readFile, writeFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CommandContext } from "./context.js";
import { ExitCode, InputError } from "../errors.js";
import { discoverCluster } from "../discover/index.js";
import type { Inventory, InventoryHost } from "../inventory/types.js";
import { RunContext } from "../engine/context.js";
import { certsPushStep, nodePkiInput, pkiFileChanges, stalePkiFiles } from "../phases/pki.js";
import { deriveEffects } from "../plan/effects.js";
import { FULL_LAYOUT, planDetails, type PlannedStep } from "../plan/format.js";
import { terminalWidth } from "../ui/wrap.js";
import { planNodePki, renderNodePki, sharedPki } from "../pki/render.js";
import { checkKubeconfig, checkPair } from "../pki/check.js";
import type { Host } from "../ssh/types.js";
import { ClusterLock, lockClients } from "../lock/lease.js";
import { inventoryFrom, withHosts } from "./session.js";
import { plural } from "../ui/plural.js";

function findMaster(inv: Inventory, name: string | undefined): InventoryHost {
  if (!name) throw new InputError("missing --node NAME (a master of the inventory)");
  const node = [inv.primary, ...inv.masters].find((m) => m.name === name);
  if (!node) {
    throw new InputError(
      `--node ${name}: not a master in ${inv.path} (masters: ${[inv.primary, ...inv.masters].map((m) => m.name).join(", ")})`,
    );
  }
  return node;
}

/** A RunContext from the primary alone: the certificates commands need its facts and CAs, not a full discovery. */
async function withPrimaryContext<T>(
  ctx: CommandContext,
  inv: Inventory,
  extra: InventoryHost[],
  fn: (run: RunContext) => Promise<T>,
): Promise<T> {
  const hosts = [inv.primary, ...extra.filter((h) => h.name !== inv.primary.name)];
  return withHosts(hosts, async (byName: Map<string, Host>) => {
    const cluster = await discoverCluster(inv, byName.get(inv.primary.name)!);
    const run = await RunContext.open(
      inv,
      { cluster, hosts: [], identities: [], findings: [] },
      byName,
      ctx.reporter,
    );
    try {
      return await fn(run);
    } finally {
      await run.close();
    }
  });
}

/**
 * `kubeha certs render --node NAME`: the complete PKI of one master (new or a replacement), to a
 * directory or pushed to the host. A certificate that is valid and has the right SANs is kept unless
 * --force; what it replaces on a host is backed up next to it.
 */
export async function runRender(ctx: CommandContext): Promise<ExitCode> {
  const inv = await inventoryFrom(ctx);
  const node = findMaster(inv, ctx.values.node);
  const out = ctx.values.out;
  const push = Boolean(ctx.values.push);
  if (Boolean(out) === push) throw new InputError("give exactly one of --out DIR or --push");
  const force = Boolean(ctx.values.force);
  const r = ctx.reporter;
  return withPrimaryContext(ctx, inv, push ? [node] : [], async (run) => {
    if (!push) return renderLocally(run);
    // Writing onto a master changes the cluster: not while another kubeha run changes it.
    const lock = await ClusterLock.acquire(lockClients(run), r, "certs render --push");
    const onSigint = () => {
      r.error(`interrupted: some of ${node.name}'s files may be written; run the same command again`);
      void lock.release(5000).finally(() => process.exit(ExitCode.interrupted));
    };
    process.once("SIGINT", onSigint);
    try {
      return await pushToHost(run);
    } finally {
      process.removeListener("SIGINT", onSigint);
      await lock.release();
    }
  });

  /** What the push writes, shown from its own recorded run, then written. */
  async function pushToHost(run: RunContext): Promise<ExitCode> {
    const planned: PlannedStep[] = [{ step: certsPushStep(run, node, force), done: false }];
    await deriveEffects(run, planned);
    const width = terminalWidth();
    r.print(planDetails(planned, { width, elide: true }), planDetails(planned, FULL_LAYOUT));
    const step = planned[0]!.step;
    await step.run(run);
    r.info(`✓ ${node.name}: ${(await step.verify(run)) || step.title}`);
    return ExitCode.ok;
  }

  async function renderLocally(run: RunContext): Promise<ExitCode> {
    const m = await run.material();
    const items = planNodePki(nodePkiInput(run, node, m.cas));
    r.print(
      [
        `Certificates for ${node.name} (${node.address}):`,
        ...pkiFileChanges(node.name, items, true).map(
          (f) => `  ${f.path} (${f.mode.toString(8)}): ${f.after}`,
        ),
      ].join("\n"),
    );
    const files = new Map([...sharedPki(m), ...(await renderNodePki(nodePkiInput(run, node, m.cas)))]);
    const keep = force ? new Set<string>() : await validLocalFiles(out!, files, items, m.cas);
    const toWrite = [...files].filter(([rel]) => !keep.has(rel));
    if (!toWrite.length) {
      r.info(`every file is already there and valid: nothing written (use --force to re-issue)`);
      return ExitCode.ok;
    }
    for (const [rel, f] of toWrite) {
      const path = join(out!, rel);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(`${path}.tmp`, f.content, { mode: f.mode });
      await rename(`${path}.tmp`, path);
      r.info(`wrote ${path} (${f.mode.toString(8)})`);
    }
    if (keep.size) r.info(`kept ${plural(keep.size, "valid file")} (use --force to re-issue them)`);
    return ExitCode.ok;
  }
}

async function validLocalFiles(
  dir: string,
  files: Map<string, { content: string }>,
  items: ReturnType<typeof planNodePki>,
  cas: Awaited<ReturnType<RunContext["material"]>>["cas"],
): Promise<Set<string>> {
  const read = async (rel: string) => readFile(join(dir, rel), "utf8").catch(() => undefined);
  const keep = new Set<string>();
  for (const [rel, f] of files) {
    if (!rel.startsWith("pki/") || !items.length) continue;
    if ((await read(rel)) === f.content) keep.add(rel);
  }
  for (const i of items) {
    if (i.output.kind === "pair") {
      const crt = `pki/${i.output.baseName}.crt`;
      const key = `pki/${i.output.baseName}.key`;
      const c = checkPair(crt, await read(crt), await read(key), cas[i.ca].certPem, i.sans);
      if (!c.problems.length) keep.add(crt).add(key);
    } else {
      const c = checkKubeconfig(i.output.file, await read(i.output.file), cas.ca.certPem, i.output.server);
      if (!c.problems.length) keep.add(i.output.file);
    }
  }
  return keep;
}

/** `kubeha certs check`: every master's certificates: chain, SANs for the node and the LB, expiry, key match. */
export async function runCheck(ctx: CommandContext): Promise<ExitCode> {
  const inv = await inventoryFrom(ctx);
  const masters = [inv.primary, ...inv.masters];
  return withPrimaryContext(ctx, inv, masters, async (run) => {
    const results = [];
    for (const m of masters) {
      const { problems, warnings } = await stalePkiFiles(run, m, undefined, m.name !== inv.primary.name);
      results.push({ node: m.name, ok: problems.length === 0, problems, warnings });
    }
    const ok = results.every((x) => x.ok);
    if (ctx.values.output === "json") {
      ctx.reporter.result({ ok, nodes: results });
    } else {
      const lines: string[] = [];
      for (const x of results) {
        lines.push(
          `${x.ok ? "✓" : "✗"} ${x.node}: ${x.ok ? "certificates complete and valid" : plural(x.problems.length, "problem")}`,
        );
        lines.push(...x.problems.map((p) => `    ✗ ${p}`), ...x.warnings.map((w) => `    ! ${w}`));
      }
      ctx.reporter.print(lines.join("\n"));
    }
    return ok ? ExitCode.ok : ExitCode.failed;
  });
}
