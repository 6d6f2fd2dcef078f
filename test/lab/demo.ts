// `npm run demo [-- --keep] [-- --real] [-- --lb nginx|master|keepalived|external]` (as root): a lab with a single-master kubeadm cluster (--real:
// made by the real kubeadm v1.37.2 and run by the real control plane, see scripts/build-kubernetes.sh), the whole
// conversion run against it as an operator would run it, the verification report, then teardown
// (or, with --keep, how to reach the converted cluster).
import { spawn } from "node:child_process";
import { startLab, type Lab, type LabLoadBalancer } from "./lab.js";
import { operatorStream } from "./external-lb.js";
import { CLI } from "./kubeha.js";

const keep = process.argv.includes("--keep");
const real = process.argv.includes("--real");
const lbArg = process.argv[process.argv.indexOf("--lb") + 1];
const LB_CHOICES: Record<string, LabLoadBalancer> = {
  nginx: {},
  master: { onMaster: true },
  keepalived: { mode: "keepalived" },
  external: { mode: "external" },
};

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
  const lb = process.argv.includes("--lb") ? LB_CHOICES[lbArg ?? ""] : {};
  if (!lb) {
    console.error(`--lb takes one of ${Object.keys(LB_CHOICES).join(", ")}`);
    return 2;
  }
  console.log(
    `== bringing up the lab: a kubeadm ${real ? "v1.37.2 (real kubeadm, apiserver, controllers, etcd 3.7)" : "1.31"} cluster with one control-plane node, two bare hosts, an LB host, two workers`,
  );
  const lab = await startLab({
    log: (line) => console.log(line),
    kubernetes: real ? "real" : undefined,
    loadBalancer: lb,
  });
  console.log(
    `== entry point: ${lb.mode ?? "nginx"}${lb.onMaster ? " on master-1" : ""}, clients use ${lab.lbAddress}:${lab.lbPort}`,
  );
  if (lb.mode === "external") {
    // The operator's nginx on "lb" gets every master as a backend, as its operator would be told to do.
    await operatorStream(
      lab.exec,
      lab.lb.name,
      [lab.primary, ...lab.masters].map((m) => m.address),
    );
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await lab.stop();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    console.log(`\n== kubeha apply --yes -i ${lab.inventoryFile}\n`);
    let code = await run(lab, ["apply", "--yes", "-i", lab.inventoryFile]);
    console.log(`\n== kubeha apply exited ${code}`);
    if (code === 0 && process.argv.includes("--lb")) {
      // The point of choosing an entry point: see what survives the loss of the active one.
      console.log(`\n== kubeha verify --failover -i ${lab.inventoryFile}\n`);
      code = await run(lab, ["verify", "--failover", "-i", lab.inventoryFile]);
      console.log(`\n== kubeha verify --failover exited ${code}`);
    }
    if (keep) {
      console.log(
        [
          "",
          `The converted lab is still up (${lab.dir}). Through the load balancer:`,
          `  ip netns exec ${lab.wsNs} kubectl --kubeconfig ${lab.adminKubeconfig} get nodes`,
          `  ip netns exec ${lab.wsNs} node ${CLI} verify -i ${lab.inventoryFile}`,
          `  ip netns exec ${lab.wsNs} node ${CLI} verify --failover -i ${lab.inventoryFile}`,
          ...(lb.mode === "keepalived"
            ? [`  ip netns exec ${lab.wsNs} curl -k https://${lab.lbAddress}:${lab.lbPort}/healthz`]
            : []),
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
