// `npm run lab:up` / `npm run lab:down`: a lab for people to poke at, and cleanup of leftovers.
import { parseArgs } from "node:util";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab } from "./lab.js";
import { downAll, saveState, type LabState } from "./teardown.js";

const USAGE = `usage: node dist/test/lab/cli.js up [--workers N] [--version 1.31.2|1.24.17] [--etcd-peer-localhost] [--external-ca] [--lb-without-stream] [--real]
       node dist/test/lab/cli.js down [--force]   (removes labs whose owner process is gone; --force: all)`;

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      workers: { type: "string" },
      version: { type: "string" },
      "etcd-peer-localhost": { type: "boolean" },
      "external-ca": { type: "boolean" },
      "lb-without-stream": { type: "boolean" },
      real: { type: "boolean" },
    },
  });
  const lab = await startLab({
    workers: values.workers === undefined ? undefined : Number(values.workers),
    version: values.version,
    etcdPeerLocalhost: values["etcd-peer-localhost"],
    externalCa: values["external-ca"],
    lbWithoutStream: values["lb-without-stream"],
    kubernetes: values.real ? "real" : undefined,
    log: (l) => process.stderr.write(l + "\n"),
  });
  // Hand the lab over: it outlives this process until `lab:down`.
  const state = JSON.parse(await readFile(join(lab.dir, "state.json"), "utf8")) as LabState;
  await saveState({ ...state, ownerPid: 0 });
  const ws = `ip netns exec ${lab.wsNs}`;
  const lines = [
    `lab ${lab.id} is up (dir ${lab.dir})`,
    ...lab.hosts.map(
      (h) =>
        `  ${h.name.padEnd(9)} ${h.address.padEnd(14)} ${h.role.padEnd(12)} ssh ${h.sshUser}${h.sudo ? " (sudo)" : ""}  netns ${h.ns}`,
    ),
    "",
    `kubectl:   ${ws} kubectl --kubeconfig ${lab.adminKubeconfig} get nodes`,
    `ssh:       ${ws} ssh -i ${lab.identityFile} -o UserKnownHostsFile=${lab.knownHostsFile} ${lab.primary.sshUser}@${lab.primary.address}`,
    `kubeha:    ${ws} node dist/src/cli.js discover -i ${lab.inventoryFile}`,
    `a shell:   nsenter -t ${lab.anchorPid("master-1")} -n -m -u bash   (inside master-1)`,
    `down:      npm run lab:down`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

const [cmd, ...rest] = process.argv.slice(2);
if (process.getuid?.() !== 0) {
  process.stderr.write("the lab needs root (network namespaces, mounts)\n");
  process.exitCode = 1;
} else if (cmd === "up") {
  await up(rest);
} else if (cmd === "down") {
  await downAll(rest.includes("--force"), (m) => process.stdout.write(m + "\n"));
} else {
  process.stderr.write(USAGE + "\n");
  process.exitCode = 2;
}
