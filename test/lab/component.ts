/**
 * kube-controller-manager / kube-scheduler stand-in, started by the kubelet stand-in with the
 * manifest's flags: `node dist/test/lab/component.js <name> --kubeconfig=... [--secure-port=N]
 * [--bind-address=IP]`. It checks what the real ones need first (the API reachable over TLS with the
 * kubeconfig's CA, its client certificate accepted), exits non-zero when not, and then serves
 * /healthz over HTTPS on the component's port, re-checking the API every few seconds.
 */
import { readFileSync } from "node:fs";
import { request, createServer } from "node:https";
import { parseKubeconfig, type Material } from "../../src/pki/kubeconfig.js";

const [component, ...argv] = process.argv.slice(2);
const flag = (name: string): string | undefined =>
  argv.map((a) => /^--([^=]+)=(.*)$/.exec(a)).find((m) => m?.[1] === name)?.[2];
const kubeconfigPath = flag("kubeconfig");
if (!component || !kubeconfigPath) {
  console.error("usage: component.js kube-controller-manager|kube-scheduler --kubeconfig=FILE ...");
  process.exit(2);
}
const port = Number(flag("secure-port") ?? (component === "kube-scheduler" ? 10259 : 10257));
const bind = flag("bind-address") ?? "127.0.0.1";

const pem = (m: Material | undefined, what: string): string => {
  if (!m) throw new Error(`${kubeconfigPath}: no ${what}`);
  return m.pem ?? readFileSync(m.file, "utf8");
};
const kc = parseKubeconfig(readFileSync(kubeconfigPath, "utf8"), { file: kubeconfigPath });
const tls = {
  ca: pem(kc.ca, "certificate-authority"),
  cert: pem(kc.clientCert, "client certificate"),
  key: pem(kc.clientKey, "client key"),
};

function checkApi(): Promise<string | undefined> {
  const url = new URL("/api", kc.server);
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || 443,
        path: url.pathname,
        method: "GET",
        ...tls,
        timeout: 3000,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve(res.statusCode === 200 ? undefined : `GET ${url}: HTTP ${res.statusCode}`),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) => resolve(`GET ${url}: ${err.message}`));
    req.end();
  });
}

const first = await checkApi();
if (first) {
  console.error(`${component}: cannot use ${kubeconfigPath}: ${first}`);
  process.exit(1);
}
console.log(`${component}: API at ${kc.server} accepted our client certificate`);

let failures = 0;
setInterval(() => {
  void checkApi().then((problem) => {
    failures = problem ? failures + 1 : 0;
    if (problem) console.error(`${component}: ${problem}`);
    if (failures >= 3) {
      console.error(`${component}: API unreachable 3 times in a row, exiting`);
      process.exit(1);
    }
  });
}, 5000);

const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
  const ok = req.url?.startsWith("/healthz") && failures === 0;
  res.writeHead(ok ? 200 : 500, { "content-type": "text/plain" });
  res.end(ok ? "ok" : "not healthy");
});
server.listen(port, bind, () => console.log(`${component}: serving /healthz on ${bind}:${port}`));
// Reachable through the host's loopback too, as with the real components' default bind address.
if (bind !== "127.0.0.1" && bind !== "0.0.0.0") {
  createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    res.writeHead(failures === 0 ? 200 : 500);
    res.end(failures === 0 ? "ok" : "not healthy");
  }).listen(port, "127.0.0.1");
}
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
