// Discovery's pure parts: the probe's output, the manifests' facts, and the rules that block a conversion.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  kubeletVersion,
  nginxVersion,
  parseProbeSections,
  probeScript,
  streamModuleState,
} from "../../src/discover/probe.js";
import { dormantStreamFiles, nginxTestError } from "../../src/discover/nginx.js";
import { foreignStreams, mergeConflicts, type ForeignStream } from "../../src/render/nginx-merge.js";
import { listeningPorts } from "../../src/ssh/ports.js";
import { manifestFacts, COMPONENTS, type ComponentName } from "../../src/discover/primary.js";
import {
  clusterFindings,
  loadBalancerFindings,
  masterFindings,
  strayManifestFindings,
} from "../../src/discover/rules.js";
import { parseManifest } from "../../src/render/manifest.js";
import type { ClusterFacts, HostFacts } from "../../src/discover/types.js";
import type { InventoryHost } from "../../src/inventory/types.js";

const fixtures = fileURLToPath(new URL("../../../test/fixtures/manifests/", import.meta.url));

function manifests(dir: string) {
  const out = {} as Record<ComponentName, ReturnType<typeof parseManifest>>;
  for (const c of COMPONENTS)
    out[c] = parseManifest(readFileSync(`${fixtures}${dir}/${c}.yaml`, "utf8"), `${dir}/${c}.yaml`);
  return out;
}

const primary = { name: "master-1", address: "10.0.0.11", role: "primary" } as InventoryHost;

describe("the host probe", () => {
  test("its output splits into the sections it asked for", () => {
    const out = [
      "@@kubeha-probe@@ os",
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
      "@@kubeha-probe@@ kubelet",
      "Kubernetes v1.31.2",
      "@@kubeha-probe@@ manifests",
      "",
    ].join("\n");
    const s = parseProbeSections(out);
    assert.equal(s.kubelet, "Kubernetes v1.31.2");
    assert.equal(s.manifests, "");
    assert.equal(kubeletVersion(s.kubelet), "1.31.2");
    assert.match(probeScript, /kubelet --version/);
  });

  test("listening ports from ss and netstat", () => {
    const ss =
      "LISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*\nLISTEN 0 4096 [::]:6443 [::]:*\nLISTEN 0 128 *:10250 *:*";
    assert.deepEqual([...listeningPorts(ss)].sort(), [10250, 2379, 6443]);
    const netstat = "tcp        0      0 0.0.0.0:2380            0.0.0.0:*               LISTEN";
    assert.deepEqual([...listeningPorts(netstat)], [2380]);
  });

  test("nginx's stream module: built in, loaded, available, missing", () => {
    assert.equal(
      streamModuleState("configure arguments: --with-stream --with-http_ssl_module", ""),
      "builtin",
    );
    assert.equal(
      streamModuleState(
        "configure arguments: --with-stream=dynamic",
        "50-mod-stream.conf\nload_module modules/ngx_stream_module.so;",
      ),
      "loaded",
    );
    assert.equal(
      streamModuleState("configure arguments: --with-stream=dynamic", "ngx_stream_module.so"),
      "available",
    );
    assert.equal(
      streamModuleState("configure arguments: --with-http_ssl_module", "ngx_http_echo_module.so"),
      "missing",
    );
  });
});

describe("the LB's nginx -T", () => {
  const nginxT = (extra: string) =>
    [
      "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok",
      "nginx: configuration file /etc/nginx/nginx.conf test is successful",
      "# configuration file /etc/nginx/nginx.conf:",
      "user www-data;",
      "include /etc/nginx/modules-enabled/*.conf;",
      "events { worker_connections 768; }",
      "http {",
      "  # stream { } in a comment is not a block",
      "  include /etc/nginx/conf.d/*.conf;",
      "}",
      "include /etc/nginx/stream.d/*.conf;",
      "",
      "# configuration file /etc/nginx/modules-enabled/50-mod-stream.conf:",
      "load_module modules/ngx_stream_module.so;",
      "",
      "# configuration file /etc/nginx/stream.d/kubeha-apiservers.conf:",
      "stream {",
      "    upstream kubeha_apiservers { server 10.0.0.11:6443; }",
      "    server { listen 6443; proxy_pass kubeha_apiservers; }",
      "}",
      extra,
    ].join("\n");

  test("kubeha's own stream {} is not a foreign one", () => {
    assert.deepEqual(foreignStreams(nginxT("")), []);
  });

  test("another stream {} in an included file is found, with its file and line", () => {
    const other = [
      "# configuration file /etc/nginx/modules-enabled/60-proxy.conf:",
      "# a TCP proxy of the operator's",
      "stream {",
      "    server { listen 9999; proxy_pass 127.0.0.1:22; }",
      "}",
    ].join("\n");
    assert.deepEqual(foreignStreams(nginxT(other)), [
      {
        file: "/etc/nginx/modules-enabled/60-proxy.conf",
        line: 2,
        listens: [{ value: "9999", file: "/etc/nginx/modules-enabled/60-proxy.conf", line: 3 }],
        upstreams: [],
        merged: false,
      },
    ]);
  });

  test("the stream {} context follows its includes: what is in kubeha's way is named with file and line", () => {
    const other = [
      "# configuration file /etc/nginx/modules-enabled/60-proxy.conf:",
      "stream {",
      "    include streams/*.conf;",
      "    server { listen 127.0.0.1:9999; proxy_pass 127.0.0.1:22; }",
      "}",
      "# configuration file /etc/nginx/streams/a.conf:",
      "upstream kubeha_apiservers { server 10.0.0.99:6443; }",
      "server {",
      "    listen [::]:6443;",
      "    proxy_pass kubeha_apiservers;",
      "}",
      "# configuration file /etc/nginx/streams-old/b.conf:",
      "server { listen 7000; proxy_pass 127.0.0.1:22; }",
    ].join("\n");
    const [block, ...more] = foreignStreams(nginxT(other));
    assert.deepEqual(more, []);
    assert.deepEqual(
      block!.listens.map((l) => `${l.value} ${l.file}:${l.line}`),
      ["[::]:6443 /etc/nginx/streams/a.conf:3", "127.0.0.1:9999 /etc/nginx/modules-enabled/60-proxy.conf:3"],
    );
    assert.deepEqual(
      mergeConflicts(block!, 6443).map((c) => c.why),
      [
        "a stream server already listens on port 6443 (listen [::]:6443, /etc/nginx/streams/a.conf line 3)",
        "the stream {} context already has an upstream named kubeha_apiservers (/etc/nginx/streams/a.conf line 1)",
      ],
    );
    assert.deepEqual(mergeConflicts(block!, 8443, "other_upstream"), []);
  });

  test("a stream {} block in a file kubeha cannot read (an unquoted ${var}) is refused, not missed", () => {
    const odd = [
      "# configuration file /etc/nginx/modules-enabled/60-proxy.conf:",
      "stream {",
      "    server { listen 9999; return ${remote_addr}x; }",
      "}",
    ].join("\n");
    const [block, ...more] = foreignStreams(nginxT(odd));
    assert.deepEqual(more, []);
    assert.equal(block!.file, "/etc/nginx/modules-enabled/60-proxy.conf");
    assert.equal(block!.line, 1);
    const [c] = mergeConflicts(block!, 6443);
    assert.match(
      c!.why,
      /^kubeha cannot read its configuration \(.*60-proxy\.conf.*\), so it cannot tell what is in the way$/,
    );
    assert.match(c!.fix, /quote the values with braces/);
  });

  test("after a merge, kubeha's include is seen and its own file is not in the operator's way", () => {
    const merged = [
      "# configuration file /etc/nginx/modules-enabled/60-proxy.conf:",
      "stream {",
      "    include /etc/nginx/kubeha/apiservers-stream.conf;",
      "    server { listen 9999; proxy_pass 127.0.0.1:22; }",
      "}",
      "# configuration file /etc/nginx/kubeha/apiservers-stream.conf:",
      "upstream kubeha_apiservers { server 10.0.0.11:6443; }",
      "server { listen 6443; proxy_pass kubeha_apiservers; }",
    ].join("\n");
    const [block] = foreignStreams(nginxT(merged));
    assert.equal(block!.merged, true);
    assert.deepEqual(
      mergeConflicts(block!, 6443).map((c) => c.why),
      [],
    );
  });

  test("files in stream.d that nginx does not read yet are found (nginx -T cannot show them)", () => {
    const listing = ["/etc/nginx/stream.d/kubeha-apiservers.conf", "/etc/nginx/stream.d/old-proxy.conf"].join(
      "\n",
    );
    const dump = nginxT("").replace("include /etc/nginx/stream.d/*.conf;", "");
    const withoutOwn = dump.replace(/# configuration file \/etc\/nginx\/stream\.d[^]*$/, "");
    assert.deepEqual(dormantStreamFiles(withoutOwn, listing), ["/etc/nginx/stream.d/old-proxy.conf"]);
    const read = `${dump}\n# configuration file /etc/nginx/stream.d/old-proxy.conf:\nstream { }\n`;
    assert.deepEqual(dormantStreamFiles(read, listing), []);
    assert.deepEqual(dormantStreamFiles(withoutOwn, ""), []);
  });

  test("a failed test names nginx's complaint", () => {
    const out =
      'nginx: [emerg] "stream" directive is duplicate in /etc/nginx/stream.d/x.conf:1\nnginx: configuration file /etc/nginx/nginx.conf test failed\n';
    assert.match(
      nginxTestError(out),
      /^\[emerg\] "stream" directive is duplicate in \/etc\/nginx\/stream\.d\/x\.conf:1$/,
    );
    const logged =
      '2026/12/04 21:08:49 [emerg] 20401#20401: unknown directive "this" in /etc/nginx/conf.d/zz-broken.conf:1\nnginx: configuration file /etc/nginx/nginx.conf test failed\n';
    assert.equal(
      nginxTestError(logged),
      '[emerg] unknown directive "this" in /etc/nginx/conf.d/zz-broken.conf:1',
    );
  });
});

describe("facts from the primary's manifests", () => {
  test("kubeadm 1.31", () => {
    const f = manifestFacts(primary, manifests("v1.31"));
    assert.match(f.kubernetesVersion, /^1\.31\.\d+$/);
    assert.equal(f.certificatesDir, "/etc/kubernetes/pki");
    assert.equal(f.securePort, 6443);
    assert.ok(f.serviceCidr.includes("/"));
    assert.ok(f.etcdListen.peer.length > 0);
  });

  test("kubeadm 1.24", () => {
    assert.match(manifestFacts(primary, manifests("v1.24")).kubernetesVersion, /^1\.24\.\d+$/);
  });

  test("an apiserver using an etcd elsewhere is external etcd: refused", () => {
    const m = manifests("v1.31");
    const text = readFileSync(`${fixtures}v1.31/kube-apiserver.yaml`, "utf8").replace(
      /--etcd-servers=\S+/,
      "--etcd-servers=https://10.9.9.9:2379",
    );
    m["kube-apiserver"] = parseManifest(text, "kube-apiserver.yaml");
    assert.throws(() => manifestFacts(primary, m), /external etcd cluster is not supported/);
  });

  test("an etcd at 10.0.0.110 is not the primary's own at 10.0.0.11: refused as external", () => {
    const m = manifests("v1.31");
    const text = readFileSync(`${fixtures}v1.31/kube-apiserver.yaml`, "utf8").replace(
      /--etcd-servers=\S+/,
      "--etcd-servers=https://10.0.0.110:2379",
    );
    m["kube-apiserver"] = parseManifest(text, "kube-apiserver.yaml");
    assert.throws(() => manifestFacts(primary, m), /external etcd cluster is not supported/);
    const own = text.replace("https://10.0.0.110:2379", "https://10.0.0.11:2379,https://127.0.0.1:2379");
    m["kube-apiserver"] = parseManifest(own, "kube-apiserver.yaml");
    assert.doesNotThrow(() => manifestFacts(primary, m));
  });
});

function cluster(over: Partial<ClusterFacts> = {}): ClusterFacts {
  return {
    primary: { name: "master-1", address: "10.0.0.11", hostname: "master-1" },
    kubernetesVersion: "1.31.2",
    etcdImageVersion: "3.5.15-0",
    advertiseAddress: "10.0.0.11",
    securePort: 6443,
    apiserverFlags: {},
    serviceCidr: "10.96.0.0/12",
    clusterDomain: "cluster.local",
    certificatesDir: "/etc/kubernetes/pki",
    certificates: [],
    caKeys: { ca: true, frontProxyCa: true, etcdCa: true },
    clusterConfiguration: "",
    etcd: {
      members: [{ id: "1", name: "master-1", peerUrls: [], clientUrls: [], isLearner: false, started: true }],
      healthy: true,
      primaryPeerUrls: [],
      listenPeerUrls: [],
      listenClientUrls: [],
    },
    controlPlaneNodes: ["master-1"],
    nodes: [{ name: "master-1", internalIPs: ["10.0.0.11"], hostname: "master-1" }],
    manifests: { etcd: "", "kube-apiserver": "", "kube-controller-manager": "", "kube-scheduler": "" },
    ...over,
  };
}

const cleanHost: HostFacts = {
  name: "master-2",
  role: "master",
  kubeletVersion: "1.31.0",
  containerRuntime: "containerd 1.7",
  busyPorts: [],
  ipForward: true,
  brNetfilter: true,
  clockSkewMs: 20,
  manifests: [],
};

describe("what blocks a conversion", () => {
  test("a healthy single-master 1.31 cluster and a clean host: nothing", () => {
    assert.deepEqual(clusterFindings(cluster()), []);
    assert.deepEqual(masterFindings(cleanHost, cluster()), []);
  });

  test("the cluster: too old, external CA, already HA, unhealthy etcd", () => {
    const msgs = (c: ClusterFacts) =>
      clusterFindings(c)
        .map((f) => f.message)
        .join("\n");
    assert.match(msgs(cluster({ kubernetesVersion: "1.23.17" })), /older than 1\.24/);
    assert.match(
      msgs(cluster({ caKeys: { ca: false, frontProxyCa: true, etcdCa: true } })),
      /ca\.key missing: the cluster uses an external CA/,
    );
    assert.match(
      msgs(cluster({ controlPlaneNodes: ["master-1", "cp-2"] })),
      /already has 2 control-plane nodes/,
    );
    assert.match(msgs(cluster({ etcd: { ...cluster().etcd, healthy: false } })), /etcd is not healthy/);
  });

  test("an already highly-available cluster is reported as such, not as one to convert", () => {
    const member = (name: string, isLearner = false) => ({
      id: name,
      name,
      peerUrls: [],
      clientUrls: [],
      isLearner,
      started: true,
    });
    const ha = cluster({
      controlPlaneNodes: ["master-1", "cp-2", "cp-3"],
      etcd: { ...cluster().etcd, members: [member("master-1"), member("cp-2"), member("cp-3")] },
    });
    const f = clusterFindings(ha);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.severity, "error");
    assert.equal(
      f[0]!.message,
      "the cluster is already highly available: 3 control-plane nodes (master-1, cp-2, cp-3) and 3 etcd voters (master-1, cp-2, cp-3); kubeha has nothing to convert",
    );
    assert.match(f[0]!.fix!, /^nothing to do/);
    // Two voters, or a third member still a learner, tolerate no failure: not highly available yet.
    const learner = cluster({
      ...ha,
      etcd: { ...ha.etcd, members: [member("master-1"), member("cp-2"), member("cp-3", true)] },
    });
    assert.match(clusterFindings(learner)[0]!.message, /already has 3 control-plane nodes or etcd members/);
  });

  test("a certificatesDir other than kubeadm's default is refused at preflight, naming it", () => {
    assert.deepEqual(clusterFindings(cluster({ certificatesDir: "/etc/kubernetes/pki/" })), []);
    const f = clusterFindings(cluster({ certificatesDir: "/srv/k8s/pki" }));
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.equal(f[0]!.severity, "error");
    assert.equal(f[0]!.host, "master-1");
    assert.match(
      f[0]!.message,
      /^certificatesDir is \/srv\/k8s\/pki \(from kube-apiserver's --client-ca-file\), not \/etc\/kubernetes\/pki/,
    );
  });

  test("extra members and nodes that are all the inventory's own are a resume, a foreign one is refused", () => {
    const m = (name: string, isLearner = false) => ({
      id: name,
      name,
      peerUrls: [],
      clientUrls: [],
      isLearner,
      started: name !== "",
    });
    const c = cluster({
      controlPlaneNodes: ["master-1", "master-2"],
      etcd: { ...cluster().etcd, members: [m("master-1"), m("master-2"), m("", true)] },
    });
    const own = {
      member: (x: { name: string }) => ["master-1", "master-2", ""].includes(x.name),
      node: (n: string) => n.startsWith("master-"),
    };
    assert.deepEqual(clusterFindings(c, own), []);
    const foreign = { ...own, member: (x: { name: string }) => x.name === "master-1" };
    assert.match(
      clusterFindings(c, foreign)
        .map((f) => f.message)
        .join("\n"),
      /already has 2 control-plane nodes/,
    );
  });

  test("a foreign learner: not ours, its peer URL, and the etcdctl command that removes it", () => {
    const c = cluster({
      certificates: [
        { path: "etcd/healthcheck-client.crt" } as ClusterFacts["certificates"][number],
        { path: "apiserver-etcd-client.crt" } as ClusterFacts["certificates"][number],
      ],
      etcd: {
        ...cluster().etcd,
        listenClientUrls: ["https://127.0.0.1:2379", "https://10.0.0.11:2379"],
        members: [
          {
            id: "8e9e05c52164694d",
            name: "master-1",
            peerUrls: ["https://10.0.0.11:2380"],
            clientUrls: [],
            isLearner: false,
            started: true,
          },
          {
            id: "2f1b6e2a7c3d4e5f",
            name: "",
            peerUrls: ["https://10.0.0.99:2380"],
            clientUrls: [],
            isLearner: true,
            started: false,
          },
        ],
      },
    });
    const own = { member: (m: { name: string }) => m.name === "master-1", node: () => true };
    const f = clusterFindings(c, own);
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.match(
      f[0]!.message,
      /learner \(not started\) \(id 2f1b6e2a7c3d4e5f, peer https:\/\/10\.0\.0\.99:2380\) is not one of the inventory's hosts/,
    );
    assert.doesNotMatch(f[0]!.fix!, /kubeha apply/);
    assert.match(
      f[0]!.fix!,
      /on master-1 as root: etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 --cacert=\/etc\/kubernetes\/pki\/etcd\/ca\.crt --cert=\/etc\/kubernetes\/pki\/etcd\/healthcheck-client\.crt --key=\/etc\/kubernetes\/pki\/etcd\/healthcheck-client\.key member remove 2f1b6e2a7c3d4e5f$/,
    );
  });

  test("a foreign voter that is started: refused, and never advised to be removed", () => {
    const c = cluster({
      etcd: {
        ...cluster().etcd,
        members: [
          {
            id: "1",
            name: "master-1",
            peerUrls: ["https://10.0.0.11:2380"],
            clientUrls: [],
            isLearner: false,
            started: true,
          },
          {
            id: "2",
            name: "other",
            peerUrls: ["https://10.0.0.99:2380"],
            clientUrls: [],
            isLearner: false,
            started: true,
          },
        ],
      },
    });
    const f = clusterFindings(c, { member: (m) => m.name === "master-1", node: () => true });
    assert.match(f.map((x) => x.message).join("\n"), /already has 2 control-plane nodes or etcd members/);
    assert.ok(
      f.every((x) => !/member remove/.test(x.fix ?? "")),
      JSON.stringify(f),
    );
  });

  test("a new master: kubelet minor, runtime, ports, kernel settings, clock, leftover manifests", () => {
    const msgs = (h: Partial<HostFacts>) =>
      masterFindings({ ...cleanHost, ...h }, cluster())
        .map((f) => f.message)
        .join("\n");
    assert.match(msgs({ kubeletVersion: "1.30.4" }), /does not match the cluster's minor version 1\.31/);
    assert.match(msgs({ containerRuntime: undefined }), /no container runtime/);
    assert.match(msgs({ busyPorts: [2379, 6443] }), /ports already in use: 2379, 6443/);
    assert.match(msgs({ ipForward: false }), /ip_forward is 0/);
    assert.match(msgs({ brNetfilter: false }), /br_netfilter/);
    assert.match(msgs({ clockSkewMs: 5000 }), /clock differs .* by 5\.0 s \(± 0\.0 s\)/);
    // A skew within what a slow probe cannot tell apart is not refused; beyond it, it is.
    assert.doesNotMatch(msgs({ clockSkewMs: 3600, clockSkewErrorMs: 1800 }), /clock differs/);
    assert.match(msgs({ clockSkewMs: 3600, clockSkewErrorMs: 1000 }), /by 3\.6 s \(± 1\.0 s\)/);
    assert.match(msgs({ manifests: ["etcd.yaml"] }), /manifests is not empty/);
  });

  test("the LB: nginx and its stream module, with the package to install", () => {
    const lb: HostFacts = {
      ...cleanHost,
      name: "lb",
      role: "loadBalancer",
      nginx: { version: "1.22.1", stream: "missing" },
    };
    assert.match(loadBalancerFindings(lb, 6443)[0]!.fix!, /libnginx-mod-stream/);
    assert.match(
      loadBalancerFindings({ ...lb, nginx: undefined }, 6443)[0]!.message,
      /nginx is not installed/,
    );
    assert.match(
      loadBalancerFindings({ ...lb, nginx: { stream: "loaded" }, busyPorts: [6443] }, 6443)[0]!.message,
      /port 6443 is already in use/,
    );
  });

  test("the LB: an existing stream {} block takes kubeha's servers unless something is in their way", () => {
    const lb: HostFacts = { ...cleanHost, name: "lb", role: "loadBalancer", nginx: { stream: "loaded" } };
    const block: ForeignStream = {
      file: "/etc/nginx/nginx.conf",
      line: 40,
      listens: [{ value: "9999", file: "/etc/nginx/nginx.conf", line: 42 }],
      upstreams: [{ value: "backends", file: "/etc/nginx/nginx.conf", line: 41 }],
      merged: false,
    };
    const with_ = (b: ForeignStream, dormant: string[] = []) =>
      loadBalancerFindings(
        { ...lb, nginx: { stream: "loaded", otherStreamBlocks: [b], dormantStreamFiles: dormant } },
        6443,
      );
    assert.deepEqual(with_(block, ["/etc/nginx/stream.d/x.conf"]), []);
    const clash = with_({
      ...block,
      listens: [{ value: "0.0.0.0:6443", file: "/etc/nginx/nginx.conf", line: 42 }],
      upstreams: [{ value: "kubeha_apiservers", file: "/etc/nginx/nginx.conf", line: 41 }],
    });
    assert.deepEqual(
      clash.map((f) => [f.severity, f.message]),
      [
        [
          "error",
          "nginx's stream {} block (/etc/nginx/nginx.conf line 40) cannot take kubeha's load balancer: a stream server already listens on port 6443 (listen 0.0.0.0:6443, /etc/nginx/nginx.conf line 42)",
        ],
        [
          "error",
          "nginx's stream {} block (/etc/nginx/nginx.conf line 40) cannot take kubeha's load balancer: the stream {} context already has an upstream named kubeha_apiservers (/etc/nginx/nginx.conf line 41)",
        ],
      ],
    );
    assert.match(clash[0]!.fix!, /another loadBalancer\.port/);
    assert.match(clash[1]!.fix!, /rename that upstream/);
  });

  test("the LB: a file in stream.d that nginx does not read yet is refused, naming it", () => {
    const f = loadBalancerFindings(
      {
        ...cleanHost,
        name: "lb",
        role: "loadBalancer",
        nginx: {
          stream: "loaded",
          otherStreamBlocks: [],
          dormantStreamFiles: ["/etc/nginx/stream.d/old.conf"],
        },
      },
      6443,
    );
    assert.equal(f.length, 1);
    assert.equal(f[0]!.severity, "error");
    assert.match(f[0]!.message, /^\/etc\/nginx\/stream\.d\/old\.conf is not read by nginx now, but kubeha's/);
    assert.match(f[0]!.fix!, /move it out of \/etc\/nginx\/stream\.d/);
  });

  test("the nginx version is the number, not nginx/ twice", () => {
    assert.equal(nginxVersion("nginx version: nginx/1.22.1\nbuilt with OpenSSL"), "1.22.1");
    assert.equal(nginxVersion("nginx version: openresty/1.21.4.1"), "openresty/1.21.4.1");
    assert.equal(nginxVersion("bash: nginx: command not found"), undefined);
  });
});

describe("copies of control-plane manifests left in a running master's manifests directory", () => {
  const host = (manifests: string[]): HostFacts => ({ ...cleanHost, name: "master-1", manifests });

  test("kubeadm's four manifests, other static pods and hidden files are fine", () => {
    const ok = ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];
    assert.deepEqual(strayManifestFindings(host([...ok, "kube-vip.yaml", ".kube-apiserver.yaml.swp"])), []);
  });

  test("a backup or editor copy of one of them is an error naming each file and how to move it out", () => {
    const f = strayManifestFindings(
      host([
        "etcd.yaml",
        "etcd.yaml.kubeha-20261125T143400Z.bak",
        "kube-apiserver.yaml",
        "kube-apiserver-old.yaml",
      ]),
    );
    assert.equal(f.length, 1);
    assert.equal(f[0]!.severity, "error");
    assert.equal(f[0]!.host, "master-1");
    assert.match(f[0]!.message, /etcd\.yaml\.kubeha-20261125T143400Z\.bak, kube-apiserver-old\.yaml/);
    assert.match(
      f[0]!.fix ?? "",
      /mv \/etc\/kubernetes\/manifests\/etcd\.yaml\.kubeha-\S+ \/etc\/kubernetes\/manifests\/kube-apiserver-old\.yaml \/etc\/kubernetes\/tmp\/old\//,
    );
  });
});
