/**
 * kube-controller-manager / kube-scheduler stand-in:
 *   node dist/test/lab/component.js <kube-controller-manager|kube-scheduler> --kubeconfig=FILE
 *     [--secure-port=10257|10259] [--bind-address=0.0.0.0] (other flags are accepted and ignored)
 * Checks the kubeconfig (server reachable over TLS, client certificate accepted) and exits 1 when it
 * is not; then serves /healthz over HTTPS and exits 1 after 3 failed checks in a row (every 5 s).
 * Unless --leader-elect=false, it holds the component's leader Lease as the real one does
 * (standin-leader.ts) and exits 1 when it loses it.
 */
import { createServer } from "node:https";
import { errorText, parseFlags } from "./standin-flags.js";
import { kubeRequest, loadKubeconfig, type KubeTarget } from "./standin-kubeconfig.js";
import { electLeader } from "./standin-leader.js";

const DEFAULT_PORTS: Record<string, number> = { "kube-controller-manager": 10257, "kube-scheduler": 10259 };
const CHECK_MS = 5000;
const MAX_FAILURES = 3;

const [component = "", ...rest] = process.argv.slice(2);
const f = parseFlags(rest);

function die(message: string): never {
  console.error(`${component} stand-in: ${message}`);
  process.exit(1);
}

if (!(component in DEFAULT_PORTS)) die(`first argument must be kube-controller-manager or kube-scheduler`);
const kubeconfig = f.get("kubeconfig") ?? die("--kubeconfig is required");
let target: KubeTarget;
try {
  target = loadKubeconfig(kubeconfig);
} catch (err) {
  die(errorText(err));
}

/** /api needs an authenticated client: a 200 proves TLS, the CA and the client certificate. */
async function check(): Promise<string | undefined> {
  try {
    const r = await kubeRequest(target, "GET", "/api");
    return r.status === 200
      ? undefined
      : `GET ${target.server}/api answered ${r.status}: ${r.body.slice(0, 200)}`;
  } catch (err) {
    return `${target.server}: ${errorText(err)}`;
  }
}

const first = await check();
if (first) die(`kubeconfig ${kubeconfig}: ${first}`);

const port = Number(f.get("secure-port") ?? DEFAULT_PORTS[component]);
const bind = f.get("bind-address") ?? "0.0.0.0";
// The real components serve a self-signed certificate; the kubeconfig's key pair is at hand.
const server = createServer({ cert: target.cert, key: target.key }, (req, res) => {
  const ok = ["/healthz", "/livez", "/readyz"].includes(new URL(req.url ?? "/", "https://x").pathname);
  res.writeHead(ok ? 200 : 404, { "content-type": "text/plain" });
  res.end(ok ? "ok" : "not found");
});
server.on("error", (err) => die(`serving on ${bind}:${port}: ${err.message}`));
server.listen(port, bind, () =>
  console.log(`${component} stand-in: API ok, serving /healthz on ${bind}:${port}`),
);

if (f.get("leader-elect") !== "false")
  electLeader(target, component, (why) => die(`leaderelection lost: ${why}`));

let failures = 0;
setInterval(() => {
  void check().then((problem) => {
    failures = problem ? failures + 1 : 0;
    if (problem) console.log(`${component} stand-in: check ${failures}/${MAX_FAILURES} failed: ${problem}`);
    if (failures >= MAX_FAILURES) die(`API unreachable ${MAX_FAILURES} times in a row`);
  });
}, CHECK_MS);

for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
