import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { findEndpoints, portKeyFor, replaceEndpoints, type Target } from "../../src/references/match.js";
import {
  scanCallbacks,
  scanConfigMap,
  scanFileLines,
  scanSecret,
  scanWorkload,
  numberedLines,
  type ScannedObject,
} from "../../src/references/scan.js";
import { applyFix, fixDiff } from "../../src/references/fix.js";
import { PAGE, listAll, parseGrep, smallerPage } from "../../src/references/collect.js";
import { KubeApiError } from "../../src/kube/client.js";
import { formatReport, summaryLine } from "../../src/references/format.js";

const t: Target = { addresses: ["10.0.0.1"], names: ["master-1"], port: 6443 };
const lb = { address: "10.0.0.20", port: 8443 };
const hits = (text: string, target = t) => findEndpoints(text, target).map((m) => m.text);

describe("references: matching the primary's endpoint", () => {
  it("matches address:port, https://address:port and hostname:port as whole tokens", () => {
    assert.deepEqual(hits("server: https://10.0.0.1:6443"), ["10.0.0.1:6443"]);
    assert.deepEqual(hits("--master=10.0.0.1:6443 x"), ["10.0.0.1:6443"]);
    assert.deepEqual(hits("https://MASTER-1:6443/api"), ["MASTER-1:6443"]);
    assert.deepEqual(hits('"10.0.0.1:6443","master-1:6443"'), ["10.0.0.1:6443", "master-1:6443"]);
  });

  it("does not match a longer address, another port or a longer name", () => {
    assert.deepEqual(hits("https://10.0.0.11:6443"), []);
    assert.deepEqual(hits("https://110.0.0.1:6443"), []);
    assert.deepEqual(hits("https://10.0.0.1:64430 10.0.0.1:643 10.0.0.1:2379"), []);
    assert.deepEqual(hits("master-10:6443 x.master-1:6443 master-1.example.com:6443 my-master-1:6443"), []);
    assert.deepEqual(hits("10.0.0.1 6443"), []);
    // Characters a regular expression would not take into the token still join it to a longer one.
    assert.deepEqual(hits("x_10.0.0.1:6443 .10.0.0.1:6443 x_master-1:6443 -master-1:6443"), []);
  });

  it("matches IPv6 in brackets by value, not inside a longer address", () => {
    const v6: Target = { addresses: ["fd00::1"], names: [], port: 6443 };
    assert.deepEqual(hits("server: https://[fd00::1]:6443", v6), ["[fd00::1]:6443"]);
    assert.deepEqual(hits("https://[fd00:0:0::1]:6443", v6), ["[fd00:0:0::1]:6443"]);
    assert.deepEqual(hits("https://[fd00::11]:6443 [fd00::1]:6444 fd00::1:6443", v6), []);
    assert.equal(
      replaceEndpoints("https://[fd00::1]:6443/x", v6, { address: "fd00::20", port: 6443 }),
      "https://[fd00::20]:6443/x",
    );
  });

  it("replaces only the endpoint, keeping the scheme and everything else", () => {
    assert.equal(
      replaceEndpoints("a https://10.0.0.1:6443 b 10.0.0.11:6443 master-1:6443\n", t, lb),
      "a https://10.0.0.20:8443 b 10.0.0.11:6443 10.0.0.20:8443\n",
    );
  });

  it("pairs a host key with its port key", () => {
    assert.equal(portKeyFor("k8s-service-host"), "k8s-service-port");
    assert.equal(portKeyFor("KUBERNETES_SERVICE_HOST"), "KUBERNETES_SERVICE_PORT");
    assert.equal(portKeyFor("apiServerHost"), "apiServerPort");
    assert.equal(portKeyFor("server"), undefined);
  });
});

const cm = (name: string, data: Record<string, string>, ns = "kube-system"): ScannedObject => ({
  kind: "ConfigMap",
  metadata: { name, namespace: ns, resourceVersion: "7" },
  data,
});

describe("references: objects", () => {
  it("a cilium-style ConfigMap: host and port keys, a safe edit with a diff", () => {
    const obj = cm("cni-config", {
      "k8s-service-host": "10.0.0.1",
      "k8s-service-port": "6443",
      other: "10.0.0.1",
      "cluster-pool": "10.0.0.11",
    });
    const s = scanConfigMap(obj, t, lb);
    assert.deepEqual(
      s.references.map((r) => [r.field, r.says, r.change, r.action.kind]),
      [
        ["data.k8s-service-host", "10.0.0.1", "10.0.0.1 → 10.0.0.20", "fix"],
        ["data.k8s-service-port", "6443", "6443 → 8443", "fix"],
      ],
    );
    const fixed = applyFix(obj, s.fixes[0]!);
    assert.deepEqual(fixed.data, {
      ...(obj.data as Record<string, string>),
      "k8s-service-host": "10.0.0.20",
      "k8s-service-port": "8443",
    });
    assert.equal(obj.data && (obj.data as Record<string, string>)["k8s-service-host"], "10.0.0.1");
    assert.match(fixDiff(s.fixes[0]!), /^-10\.0\.0\.1\n\+10\.0\.0\.20$/m);
    assert.match(fixDiff(s.fixes[0]!), /b\/ConfigMap\/kube-system\/cni-config\/data\/k8s-service-port/);
  });

  it("the port key alone is left when the LB listens on the same port", () => {
    const s = scanConfigMap(
      cm("cni-config", { "k8s-service-host": "master-1", "k8s-service-port": "6443" }),
      t,
      { address: "10.0.0.20", port: 6443 },
    );
    assert.deepEqual(
      s.fixes[0]!.edits.map((e) => e.field),
      ["k8s-service-host"],
    );
  });

  it("an LB on the primary's own address (another port): only the port changes", () => {
    const s = scanConfigMap(
      cm("cni-config", {
        "k8s-service-host": "10.0.0.1",
        "k8s-service-port": "6443",
        url: "https://10.0.0.1:6443",
      }),
      t,
      { address: "10.0.0.1", port: 8443 },
    );
    assert.deepEqual(
      s.fixes[0]!.edits.map((e) => [e.field, e.after]),
      [
        ["k8s-service-port", "8443"],
        ["url", "https://10.0.0.1:8443"],
      ],
    );
  });

  it("a kubeconfig in a ConfigMap: the server line, by line number; kube-proxy's is apply's", () => {
    const kubeconfig = "clusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: x\n";
    const mine = scanConfigMap(cm("agent", { kubeconfig }, "monitoring"), t, lb);
    assert.equal(mine.references[0]!.says, "line 3: server: https://10.0.0.1:6443");
    assert.equal(mine.references[0]!.change, "10.0.0.1:6443 → 10.0.0.20:8443");
    assert.equal(mine.fixes[0]!.edits[0]!.after, kubeconfig.replace("10.0.0.1:6443", "10.0.0.20:8443"));
    const proxy = scanConfigMap(cm("kube-proxy", { "kubeconfig.conf": kubeconfig }), t, lb);
    assert.deepEqual(proxy.references[0]!.action, { kind: "apply", step: "clients/kube-proxy" });
    assert.deepEqual(proxy.fixes, []);
  });

  it("refuses a fix on an object changed since the scan", () => {
    const obj = cm("cni-config", { "k8s-service-host": "10.0.0.1" });
    const fix = scanConfigMap(obj, t, lb).fixes[0]!;
    assert.throws(
      () => applyFix({ ...obj, metadata: { ...obj.metadata, resourceVersion: "8" } }, fix),
      /ConfigMap kube-system\/cni-config changed since the scan \(resourceVersion 7 → 8\)/,
    );
    assert.throws(
      () => applyFix(cm("cni-config", { "k8s-service-host": "10.0.0.5" }), fix),
      /not what the scan read/,
    );
  });

  it("a Secret's kubeconfig: namespace/name/key only, never its value", () => {
    const value =
      "clusters:\n- cluster:\n    server: https://10.0.0.1:6443\nusers:\n- user:\n    token: s3cr3t-t0ken-value\n";
    const s = scanSecret(
      {
        kind: "Secret",
        metadata: { name: "ops", namespace: "lab-data" },
        data: {
          kubeconfig: Buffer.from(value).toString("base64"),
          other: Buffer.from("x").toString("base64"),
        },
      },
      t,
      lb,
    );
    assert.equal(s.references.length, 1);
    assert.equal(s.references[0]!.where, "Secret lab-data/ops");
    assert.equal(s.references[0]!.field, "data.kubeconfig");
    assert.equal(s.references[0]!.action.kind, "manual");
    const text = formatReport({ target: t, references: s.references, skipped: [] });
    assert.ok(!text.includes("s3cr3t"), text);
    assert.ok(!text.includes(Buffer.from(value).toString("base64")), text);
  });

  it("a CNI DaemonSet's env: safe edit; a Deployment's env and args: by hand", () => {
    const pod = {
      template: {
        spec: {
          containers: [
            {
              name: "agent",
              args: ["--k8s-api-server=https://10.0.0.1:6443", "--other=10.0.0.11:6443"],
              env: [
                { name: "KUBERNETES_SERVICE_HOST", value: "10.0.0.1" },
                { name: "KUBERNETES_SERVICE_PORT", value: "6443" },
                { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              ],
            },
          ],
        },
      },
    };
    const ds: ScannedObject = {
      kind: "DaemonSet",
      metadata: { name: "cni", namespace: "kube-system", resourceVersion: "3" },
      spec: pod,
    };
    const s = scanWorkload(ds, t, lb);
    assert.deepEqual(
      s.references.map((r) => [r.field, r.action.kind]),
      [
        ["containers[agent].env[KUBERNETES_SERVICE_HOST]", "fix"],
        ["containers[agent].env[KUBERNETES_SERVICE_PORT]", "fix"],
        ["containers[agent].args[0]", "manual"],
      ],
    );
    const fixed = applyFix(ds, s.fixes[0]!) as unknown as { spec: typeof pod };
    const env = fixed.spec.template.spec.containers[0]!.env;
    assert.deepEqual(
      env.map((e) => ("value" in e ? e.value : "from")),
      ["10.0.0.20", "8443", "from"],
    );
    const dep = scanWorkload({ ...ds, kind: "Deployment" }, t, lb);
    assert.deepEqual(dep.fixes, []);
    assert.ok(dep.references.every((r) => r.action.kind === "manual"));
  });

  it("webhook URLs and APIService specs: report only", () => {
    const wh = scanCallbacks(
      {
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: "policy" },
        webhooks: [{ name: "a", clientConfig: { url: "https://10.0.0.1:6443/validate" } }],
      },
      t,
      lb,
    );
    assert.deepEqual(
      wh.references.map((r) => [r.where, r.field, r.change]),
      [
        [
          "ValidatingWebhookConfiguration policy",
          "webhooks[0].clientConfig.url",
          "10.0.0.1:6443 → 10.0.0.20:8443",
        ],
      ],
    );
    const api = scanCallbacks(
      {
        kind: "APIService",
        metadata: { name: "v1.x" },
        spec: { service: { name: "s", namespace: "n", port: 443 } },
      },
      t,
      lb,
    );
    assert.deepEqual(api.references, []);
  });
});

describe("references: host files", () => {
  it("reads grep -nHZ output, leaving out kubeha's own files", () => {
    const out =
      "/etc/kubernetes/kubelet.conf\x003:    server: https://10.0.0.1:6443\n" +
      "/etc/kubernetes/monitoring.conf\x005:    server: https://10.0.0.1:6443\n" +
      "/root/.kube/config\x0012:    server: https://10.0.0.11:6443\n";
    const files = parseGrep(out);
    assert.deepEqual([...files.keys()], ["/etc/kubernetes/monitoring.conf", "/root/.kube/config"]);
    const refs = [...files].flatMap(([p, lines]) => scanFileLines(`master-1:${p}`, lines, t, lb, "edit it"));
    assert.deepEqual(
      refs.map((r) => [r.where, r.field, r.says]),
      [["master-1:/etc/kubernetes/monitoring.conf", "line 5", "server: https://10.0.0.1:6443"]],
    );
  });

  it("hides a credential on the same line as the endpoint", () => {
    const refs = scanFileLines(
      "ws",
      numberedLines("ARGS=--token=abcdef123456 --server=https://10.0.0.1:6443"),
      t,
      lb,
      "edit",
    );
    assert.equal(refs[0]!.says, "ARGS=--token=[hidden] --server=https://10.0.0.1:6443");
  });

  it("summarises by kind of change", () => {
    const refs = scanConfigMap(cm("cni-config", { "k8s-service-host": "10.0.0.1" }), t, lb).references;
    assert.match(
      summaryLine({ target: t, references: refs, skipped: ["Secrets (HTTP 403)"] }),
      /^references to the primary's apiserver \(10\.0\.0\.1:6443, master-1:6443\): 1 found: 1 with a safe edit \(kubeha references --fix\); not scanned: Secrets \(HTTP 403\)$/,
    );
    assert.match(summaryLine({ target: t, references: [], skipped: [] }), /: none$/);
  });
});

describe("references: listing in pages", () => {
  const exhausted = (n: number) =>
    new KubeApiError(
      `apiserver on master-1: GET /api/v1/configmaps?limit=${n}: HTTP 500 InternalError: 8 RESOURCE_EXHAUSTED: Received message larger than max (81925616 vs 67108864)`,
      500,
      "InternalError",
    );

  /** An apiserver over `total` objects whose etcd client holds at most `fits` objects in one message. */
  function server(total: number, fits: number) {
    const asked: string[] = [];
    const get = async <T>(path: string): Promise<T> => {
      asked.push(path);
      const u = new URL(path, "https://x");
      const limit = Number(u.searchParams.get("limit"));
      const from = Number(u.searchParams.get("continue") ?? 0);
      if (Math.min(limit, total - from) > fits) throw exhausted(limit);
      const end = Math.min(total, from + limit);
      const items = Array.from({ length: end - from }, (_, i) => ({ metadata: { name: `cm-${from + i}` } }));
      return { items, metadata: end < total ? { continue: String(end) } : {} } as T;
    };
    return { get, asked };
  }

  it("halves the page on RESOURCE_EXHAUSTED and only then", () => {
    assert.equal(smallerPage(500, exhausted(500)), 250);
    assert.equal(smallerPage(1, exhausted(1)), undefined);
    assert.equal(smallerPage(500, new KubeApiError("HTTP 500 InternalError: etcd down", 500)), undefined);
    assert.equal(smallerPage(500, new KubeApiError("HTTP 403 Forbidden: larger than max", 403)), undefined);
    assert.equal(smallerPage(500, new Error("RESOURCE_EXHAUSTED")), undefined);
  });

  it("lists everything when a page of 500 is too large for the server, keeping the smaller size", async () => {
    const s = server(2000, 180);
    const items = await listAll(s, "/api/v1/configmaps");
    assert.equal(items.length, 2000);
    assert.deepEqual(
      items.map((o) => o.metadata.name),
      Array.from({ length: 2000 }, (_, i) => `cm-${i}`),
    );
    // 500 and 250 refused once, then pages of 125 from where the listing stood.
    assert.deepEqual(s.asked.slice(0, 4), [
      `/api/v1/configmaps?limit=${PAGE}`,
      "/api/v1/configmaps?limit=250",
      "/api/v1/configmaps?limit=125",
      "/api/v1/configmaps?limit=125&continue=125",
    ]);
    assert.equal(s.asked.length, 2 + 2000 / 125);
  });

  it("gives up with the server's error when one object is too large, and passes other errors on", async () => {
    await assert.rejects(listAll(server(10, 0), "/api/v1/secrets"), /RESOURCE_EXHAUSTED/);
    const failing = {
      get: () => Promise.reject(new KubeApiError("HTTP 500 InternalError: etcd down", 500)),
    };
    await assert.rejects(listAll(failing, "/api/v1/secrets"), /etcd down/);
  });
});
