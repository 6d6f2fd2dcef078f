// `npm run demo [-- --keep] [-- --real]` (as root): a lab with a single-master kubeadm cluster (--real:
// made by the real kubeadm v1.37.2 and run by the real control plane, see scripts/build-kubernetes.sh), the whole
// conversion run against it as an operator would run it, the verification report, then teardown
// (or, with --keep, how to reach the converted cluster).
import { spawn } from "node:child_process";
import { startLab, type Lab } from "./lab.js";
import { CLI } from "./kubeha.js";

const keep = process.argv.includes("--keep");
const real = process.argv.includes("--real");

function run(lab: Lab, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", lab.wsNs, process.execPath, CLI, ...args], {
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("the demo builds a lab of network namespaces: run it as root (sudo npm run demo)");
    return 2;
  }
  console.log(
    `== bringing up the lab: a kubeadm ${real ? "v1.37.2 (real kubeadm, apiserver, controllers, etcd 3.7)" : "1.31"} cluster with one control-plane node, two bare hosts, an LB host, two workers`,
  );
  const lab = await startLab({ log: (line) => console.log(line), kubernetes: real ? "real" : undefined });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await lab.stop();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    console.log(`\n== kubeha apply --yes -i ${lab.inventoryFile}\n`);
    const code = await run(lab, ["apply", "--yes", "-i", lab.inventoryFile]);
    console.log(`\n== kubeha apply exited ${code}`);
    if (keep) {
      console.log(
        [
          "",
          `The converted lab is still up (${lab.dir}). Through the load balancer:`,
          `  ip netns exec ${lab.wsNs} kubectl --kubeconfig ${lab.adminKubeconfig} get nodes`,
          `  ip netns exec ${lab.wsNs} node ${CLI} verify -i ${lab.inventoryFile}`,
          `  ip netns exec ${lab.wsNs} node ${CLI} verify --failover -i ${lab.inventoryFile}`,
          "When done: npm run lab:down",
        ].join("\n"),
      );
    } else {
      await stop();
      console.log("== lab stopped and removed");
    }
    return code;
  } catch (err) {
    await stop();
    throw err;
  }
}

process.exitCode = await main();
