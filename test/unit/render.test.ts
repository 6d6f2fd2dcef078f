import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  argvStrings,
  deleteFlag,
  getFlag,
  getFlagAll,
  parseManifest,
  serializeManifest,
  setFlag,
  type StaticPodManifest,
} from "../../src/render/manifest.js";
import {
  etcdPeerProblems,
  renderApiserverForNode,
  renderControlPlaneForNode,
  renderControllerManagerForNode,
  renderEtcdForNode,
  rewritePrimaryEtcdForPeers,
  type Component,
  type EtcdPeer,
  type NodeRef,
} from "../../src/render/control-plane.js";
import { tokenRegExp } from "../../src/render/net.js";

const FIXTURES = new URL("../../../test/fixtures/manifests/", import.meta.url);
const fixture = (path: string) => readFileSync(new URL(path, FIXTURES), "utf8");
const COMPONENTS: Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];
const manifests = (dir: string) =>
  Object.fromEntries(COMPONENTS.map((c) => [c, fixture(`${dir}/${c}.yaml`)])) as Record<Component, string>;

/** Flags as `name=value` lines, without the given names: what must survive untouched. */
function flagsWithout(m: StaticPodManifest, names: string[]): string[] {
  return argvStrings(m).filter((w) => !names.some((n) => w === `--${n}` || w.startsWith(`--${n}=`)));
}

describe("static pod manifest model", () => {
  const text = fixture("v1.31/kube-apiserver.yaml");

  it("reads what kubeadm wrote: name, image and version, flags in order, probes, volumes, annotations", () => {
    const m = parseManifest(text, "master-1:/etc/kubernetes/manifests/kube-apiserver.yaml");
    assert.equal(m.podName, "kube-apiserver");
    assert.equal(m.namespace, "kube-system");
    assert.equal(m.image, "registry.k8s.io/kube-apiserver:v1.31.4");
    assert.equal(m.version, "v1.31.4");
    assert.deepEqual(m.argv[0], { kind: "word", value: "kube-apiserver" });
    assert.equal(argvStrings(m)[1], "--advertise-address=10.0.0.11");
    assert.equal(getFlag(m, "--audit-log-path"), "/var/log/kubernetes/audit/audit.log");
    assert.equal(getFlag(m, "service-cluster-ip-range"), "10.96.0.0/12");
    assert.deepEqual(getFlagAll(m, "service-account-issuer"), [
      "https://kubernetes.default.svc.cluster.local",
      "https://oidc.example.com",
    ]);
    assert.deepEqual(m.probes.livenessProbe, {
      host: "10.0.0.11",
      port: 6443,
      path: "/livez",
      scheme: "HTTPS",
    });
    assert.equal(m.probes.readinessProbe?.path, "/readyz");
    assert.equal(m.volumes.length, 7);
    assert.deepEqual(m.volumes[0], {
      hostPath: { path: "/var/log/kubernetes/audit", type: "DirectoryOrCreate" },
      name: "audit-log",
    });
    assert.equal(m.volumeMounts.find((v) => v.name === "audit-policy")?.readOnly, true);
    assert.deepEqual(m.resources, { requests: { cpu: "250m" } });
    assert.equal(
      m.annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"],
      "10.0.0.11:6443",
    );
    assert.deepEqual(m.labels, { component: "kube-apiserver", tier: "control-plane" });
  });

  it("writes every kubeadm manifest back byte for byte when nothing changed", () => {
    // Every fixture by name: a missing one fails to read, an unlisted one fails the listing check.
    const expected: Record<string, Component[]> = {
      "v1.24": COMPONENTS,
      "v1.31": COMPONENTS,
      ipv6: ["etcd", "kube-apiserver"],
      "old-layout": ["etcd"],
    };
    let checked = 0;
    for (const [dir, components] of Object.entries(expected)) {
      assert.deepEqual(
        readdirSync(new URL(`${dir}/`, FIXTURES)).sort(),
        components.map((c) => `${c}.yaml`).sort(),
        `fixtures in ${dir}/`,
      );
      for (const c of components) {
        const text = fixture(`${dir}/${c}.yaml`);
        assert.equal(serializeManifest(parseManifest(text, `${dir}/${c}.yaml`)), text, `${dir}/${c}.yaml`);
        checked++;
      }
    }
    assert.equal(checked, 11);
  });

  it("sets a flag in place, appends a new one, and deletes every repeat", () => {
    const m = parseManifest(text, "f");
    const at = argvStrings(m).indexOf("--secure-port=6443");
    setFlag(m, "secure-port", "7443");
    assert.equal(argvStrings(m)[at], "--secure-port=7443");
    setFlag(m, "--profiling", "false");
    assert.equal(argvStrings(m).at(-1), "--profiling=false");
    setFlag(m, "service-account-issuer", "https://one");
    assert.deepEqual(getFlagAll(m, "service-account-issuer"), ["https://one"]);
    assert.equal(deleteFlag(m, "feature-gates"), 1);
    assert.equal(getFlag(m, "feature-gates"), undefined);
    const back = parseManifest(serializeManifest(m), "f");
    assert.deepEqual(argvStrings(back), argvStrings(m));
  });

  it("keeps words that are not flags, and command/args apart", () => {
    const pod = [
      "apiVersion: v1",
      "kind: Pod",
      "metadata:",
      "  name: x",
      "spec:",
      "  containers:",
      "  - name: x",
      "    image: example/x@sha256:abc",
      "    command: [sh, -c]",
      "    args: [run, --a=1, --a=2, --b]",
      "",
    ].join("\n");
    const m = parseManifest(pod, "x.yaml");
    assert.equal(m.version, undefined);
    assert.deepEqual(argvStrings(m), ["sh", "-c", "run", "--a=1", "--a=2", "--b"]);
    assert.equal(getFlag(m, "a"), "2");
    assert.equal(getFlag(m, "b"), "");
    deleteFlag(m, "c");
    setFlag(m, "z", "9");
    const back = parseManifest(serializeManifest(m), "x.yaml");
    assert.deepEqual(argvStrings(back), ["sh", "run", "--a=1", "--a=2", "--b", "--z=9"]);
    assert.equal(back.argsStart, 1);
  });

  it("names the file and the missing field in its errors", () => {
    const noImage = fixture("v1.31/kube-scheduler.yaml").replace(/^\s+image: .*\n/m, "");
    assert.throws(() => parseManifest(noImage, "master-1:/etc/kubernetes/manifests/kube-scheduler.yaml"), {
      message:
        /master-1:\/etc\/kubernetes\/manifests\/kube-scheduler\.yaml: spec\.containers\[0\]\.image is missing/,
    });
    assert.throws(() => parseManifest("kind: Deployment\n", "d.yaml"), {
      message: /d\.yaml: kind is "Deployment"/,
    });
    assert.throws(() => parseManifest("kind: Pod\nmetadata: {name: x}\n", "p.yaml"), {
      message: /p\.yaml: spec is missing/,
    });
    assert.throws(() => parseManifest("a: [", "bad.yaml"), { message: /bad\.yaml: not valid YAML/ });
  });
});

const cases: { version: string; primary: NodeRef; node: NodeRef; customised: Record<Component, string[]> }[] =
  [
    {
      version: "v1.31",
      primary: { name: "master-1", address: "10.0.0.11" },
      node: { name: "master-2", address: "10.0.0.12" },
      customised: {
        etcd: ["--quota-backend-bytes=8589934592", "--auto-compaction-retention=8"],
        "kube-apiserver": [
          "--audit-log-path=/var/log/kubernetes/audit/audit.log",
          "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
          "--feature-gates=InPlacePodVerticalScaling=true",
          "--enable-admission-plugins=NodeRestriction,PodNodeSelector",
          "--service-account-issuer=https://oidc.example.com",
        ],
        "kube-controller-manager": [
          "--feature-gates=InPlacePodVerticalScaling=true",
          "--node-cidr-mask-size=24",
        ],
        "kube-scheduler": ["--profiling=false"],
      },
    },
    {
      version: "v1.24",
      primary: { name: "k8s-master", address: "192.168.56.10" },
      node: { name: "k8s-master-2", address: "192.168.56.12" },
      customised: {
        etcd: [],
        "kube-apiserver": [
          "--audit-log-path=/var/log/kubernetes/audit.log",
          "--feature-gates=EphemeralContainers=true,ServerSideFieldValidation=true",
          "--service-node-port-range=30000-40000",
        ],
        "kube-controller-manager": ["--feature-gates=EphemeralContainers=true"],
        "kube-scheduler": [],
      },
    },
  ];

for (const { version, primary, node, customised } of cases) {
  describe(`a new master's manifests from a kubeadm ${version} primary`, () => {
    const initialCluster: EtcdPeer[] = [
      { name: primary.name, peerURL: `https://${primary.address}:2380` },
      { name: node.name, peerURL: `https://${node.address}:2380` },
    ];
    const primaryTexts = manifests(version);
    const rendered = renderControlPlaneForNode(primaryTexts, { primary, node, initialCluster });
    const byComponent = Object.fromEntries(rendered.map((r) => [r.component, r]));
    const before = (c: Component) => parseManifest(primaryTexts[c], c);

    it("renders all four to kubeadm's paths, and each reads back as a static pod", () => {
      assert.deepEqual(
        rendered.map((r) => r.path),
        COMPONENTS.map((c) => `/etc/kubernetes/manifests/${c}.yaml`),
      );
      for (const r of rendered) {
        const m = parseManifest(r.text, r.path);
        assert.equal(m.podName, r.component);
        assert.deepEqual(argvStrings(m), argvStrings(r.manifest));
        assert.equal(m.image, before(r.component).image);
      }
    });

    it("etcd: this member's name and URLs, the member list, state existing, the annotation", () => {
      const m = byComponent.etcd!.manifest;
      assert.equal(getFlag(m, "name"), node.name);
      assert.equal(getFlag(m, "advertise-client-urls"), `https://${node.address}:2379`);
      assert.equal(getFlag(m, "initial-advertise-peer-urls"), `https://${node.address}:2380`);
      assert.equal(getFlag(m, "listen-client-urls"), `https://127.0.0.1:2379,https://${node.address}:2379`);
      assert.equal(getFlag(m, "listen-peer-urls"), `https://${node.address}:2380`);
      assert.equal(getFlag(m, "listen-metrics-urls"), "http://127.0.0.1:2381");
      assert.equal(
        getFlag(m, "initial-cluster"),
        `${primary.name}=https://${primary.address}:2380,${node.name}=https://${node.address}:2380`,
      );
      assert.equal(getFlag(m, "initial-cluster-state"), "existing");
      assert.equal(
        m.annotations["kubeadm.kubernetes.io/etcd.advertise-client-urls"],
        `https://${node.address}:2379`,
      );
      for (const probe of Object.values(m.probes)) assert.equal(probe.host, "127.0.0.1");
      // Certificate paths and data dir stay: each node has its own files at the same paths.
      assert.equal(getFlag(m, "cert-file"), "/etc/kubernetes/pki/etcd/server.crt");
      assert.equal(getFlag(m, "peer-key-file"), "/etc/kubernetes/pki/etcd/peer.key");
      assert.equal(getFlag(m, "data-dir"), "/var/lib/etcd");
    });

    it("kube-apiserver: advertise address, annotation and probes on this node, etcd at its local member", () => {
      const m = byComponent["kube-apiserver"]!.manifest;
      assert.equal(getFlag(m, "advertise-address"), node.address);
      assert.equal(getFlag(m, "etcd-servers"), "https://127.0.0.1:2379");
      assert.equal(
        m.annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"],
        `${node.address}:6443`,
      );
      for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"] as const) {
        assert.equal(m.probes[kind]?.host, node.address, kind);
      }
      assert.equal(getFlag(m, "tls-cert-file"), "/etc/kubernetes/pki/apiserver.crt");
      assert.deepEqual(m.volumes, before("kube-apiserver").volumes);
      assert.deepEqual(m.volumeMounts, before("kube-apiserver").volumeMounts);
    });

    it("every flag the operator customised survives, and nothing but the node-specific ones changed", () => {
      const nodeSpecific: Record<Component, string[]> = {
        etcd: [
          "name",
          "advertise-client-urls",
          "initial-advertise-peer-urls",
          "listen-client-urls",
          "listen-peer-urls",
          "initial-cluster",
          "initial-cluster-state",
        ],
        "kube-apiserver": ["advertise-address", "etcd-servers"],
        "kube-controller-manager": [],
        "kube-scheduler": [],
      };
      for (const c of COMPONENTS) {
        const after = byComponent[c]!.manifest;
        for (const flag of customised[c]) assert.ok(argvStrings(after).includes(flag), `${c}: ${flag} kept`);
        assert.deepEqual(flagsWithout(after, nodeSpecific[c]), flagsWithout(before(c), nodeSpecific[c]), c);
        assert.deepEqual(after.resources, before(c).resources);
      }
    });

    it("controller-manager and scheduler are the primary's, unchanged (local kubeconfigs, probes on 127.0.0.1)", () => {
      assert.equal(byComponent["kube-controller-manager"]!.text, primaryTexts["kube-controller-manager"]);
      assert.equal(byComponent["kube-scheduler"]!.text, primaryTexts["kube-scheduler"]);
      assert.deepEqual(byComponent["kube-scheduler"]!.changes, []);
    });

    it("the primary's address and name are gone, except from etcd's member list", () => {
      const ip = tokenRegExp(primary.address);
      const name = tokenRegExp(primary.name);
      for (const r of rendered) {
        const lines = r.text.split("\n").filter((l) => !l.includes("--initial-cluster="));
        assert.deepEqual(
          lines.filter((l) => ip.test(l) || name.test(l)),
          [],
          r.component,
        );
      }
    });

    it("describes its changes for the plan", () => {
      assert.ok(byComponent.etcd!.changes.includes(`--name: ${primary.name} → ${node.name}`));
      assert.ok(byComponent.etcd!.changes.includes("add --initial-cluster-state=existing"));
      assert.ok(
        byComponent["kube-apiserver"]!.changes.includes(
          `--advertise-address: ${primary.address} → ${node.address}`,
        ),
      );
    });
  });
}

describe("IPv6 control plane", () => {
  const primary = { name: "master-1", address: "fd00:10::11" };
  const node = { name: "master-3", address: "fd00:10::13" };

  it("brackets addresses in URLs and endpoints, keeps ::1 for local traffic", () => {
    const etcd = renderEtcdForNode(fixture("ipv6/etcd.yaml"), {
      primary,
      node,
      initialCluster: [{ name: "master-1", peerURL: "https://[fd00:10::11]:2380" }],
    }).manifest;
    assert.equal(getFlag(etcd, "advertise-client-urls"), "https://[fd00:10::13]:2379");
    assert.equal(getFlag(etcd, "listen-client-urls"), "https://[::1]:2379,https://[fd00:10::13]:2379");
    assert.equal(getFlag(etcd, "listen-peer-urls"), "https://[fd00:10::13]:2380");
    assert.equal(getFlag(etcd, "listen-metrics-urls"), "http://[::1]:2381");
    assert.equal(
      getFlag(etcd, "initial-cluster"),
      "master-1=https://[fd00:10::11]:2380,master-3=https://[fd00:10::13]:2380",
    );
    assert.equal(etcd.probes.livenessProbe?.host, "::1");

    const api = renderApiserverForNode(fixture("ipv6/kube-apiserver.yaml"), { primary, node });
    assert.equal(getFlag(api.manifest, "advertise-address"), "fd00:10::13");
    assert.equal(getFlag(api.manifest, "etcd-servers"), "https://[::1]:2379");
    assert.equal(
      api.manifest.annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"],
      "[fd00:10::13]:6443",
    );
    assert.equal(api.manifest.probes.startupProbe?.host, "fd00:10::13");
    assert.equal(getFlag(api.manifest, "service-cluster-ip-range"), "fd00:96::/112");
    assert.ok(!/fd00:10::11\b/.test(api.text));
  });
});

describe("the safety net", () => {
  const primary = { name: "master-1", address: "10.0.0.11" };
  const node = { name: "master-2", address: "10.0.0.12" };

  it("refuses an apiserver flag that embeds the primary's address it cannot map", () => {
    const text = fixture("v1.31/kube-apiserver.yaml").replace(
      "--service-account-issuer=https://oidc.example.com",
      "--service-account-issuer=https://10.0.0.11:6443",
    );
    assert.throws(
      () => renderApiserverForNode(text, { primary, node, file: "master-1:kube-apiserver.yaml" }),
      {
        message:
          /master-1:kube-apiserver\.yaml: .*master-2.*--service-account-issuer=https:\/\/10\.0\.0\.11:6443.*primary's address/,
      },
    );
  });

  it("refuses a hostPath that names the primary", () => {
    const text = fixture("v1.31/kube-apiserver.yaml").replace(
      "path: /var/log/kubernetes/audit\n",
      "path: /var/log/kubernetes/10.0.0.11\n",
    );
    assert.throws(() => renderApiserverForNode(text, { primary, node }), {
      message: /spec\.volumes\[0\]\.hostPath\.path/,
    });
  });

  it("maps a bind address that is the primary's own to the new node's", () => {
    const text = fixture("v1.31/kube-controller-manager.yaml").replace(
      "--bind-address=127.0.0.1",
      "--bind-address=10.0.0.11",
    );
    const r = renderControllerManagerForNode(text, { primary, node });
    assert.equal(getFlag(r.manifest, "bind-address"), "10.0.0.12");
    assert.equal(getFlag(r.manifest, "kubeconfig"), "/etc/kubernetes/controller-manager.conf");
    const api = renderApiserverForNode(
      fixture("v1.31/kube-apiserver.yaml").replace("--allow-privileged=true", "--bind-address=10.0.0.11"),
      { primary, node },
    );
    assert.equal(getFlag(api.manifest, "bind-address"), "10.0.0.12");
  });

  it("does not take 10.0.0.1 for 10.0.0.11", () => {
    const r = renderApiserverForNode(fixture("v1.31/kube-apiserver.yaml"), {
      primary: { name: "master-1", address: "10.0.0.1" },
      node,
    });
    // Not mistaken for the primary's: neither rewritten nor reported.
    assert.equal(r.manifest.probes.livenessProbe?.host, "10.0.0.11");
    assert.equal(getFlag(r.manifest, "advertise-address"), "10.0.0.12");
  });

  it("refuses an etcd listen URL on an address it cannot map", () => {
    const text = fixture("v1.31/etcd.yaml").replace(
      "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379",
      "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379,https://172.16.0.5:2379",
    );
    assert.throws(() => renderEtcdForNode(text, { primary, node, initialCluster: [] }), {
      message: /--listen-client-urls has https:\/\/172\.16\.0\.5:2379/,
    });
  });

  it("adds the node to --initial-cluster when missing, and refuses it at another address", () => {
    const text = fixture("v1.31/etcd.yaml");
    const r = renderEtcdForNode(text, {
      primary,
      node,
      initialCluster: [{ name: "master-1", peerURL: "https://10.0.0.11:2380" }],
    });
    assert.equal(
      getFlag(r.manifest, "initial-cluster"),
      "master-1=https://10.0.0.11:2380,master-2=https://10.0.0.12:2380",
    );
    assert.throws(
      () =>
        renderEtcdForNode(text, {
          primary,
          node,
          initialCluster: [{ name: "master-2", peerURL: "https://10.0.0.99:2380" }],
        }),
      { message: /lists master-2 at https:\/\/10\.0\.0\.99:2380/ },
    );
  });

  it("refuses to render a node with the primary's name or address", () => {
    assert.throws(
      () => renderApiserverForNode(fixture("v1.31/kube-apiserver.yaml"), { primary, node: primary }),
      {
        message: /has the primary's name or address/,
      },
    );
  });
});

describe("an etcd set up by an old kubeadm on localhost", () => {
  const primary = { name: "k8s-master", address: "192.168.56.10" };
  const old = fixture("old-layout/etcd.yaml");

  it("is detected", () => {
    const problems = etcdPeerProblems(parseManifest(old, "etcd.yaml"), primary);
    assert.equal(problems.length, 4);
    assert.deepEqual(etcdPeerProblems(parseManifest(fixture("v1.24/etcd.yaml"), "etcd.yaml"), primary), []);
  });

  it("is rewritten to listen and advertise on the primary's address, keeping loopback for clients", () => {
    const r = rewritePrimaryEtcdForPeers(old, primary);
    assert.equal(r.changed, true);
    assert.equal(r.peerURL, "https://192.168.56.10:2380");
    const m = parseManifest(r.text, "etcd.yaml");
    assert.equal(getFlag(m, "initial-advertise-peer-urls"), "https://192.168.56.10:2380");
    assert.equal(getFlag(m, "listen-peer-urls"), "https://192.168.56.10:2380");
    assert.equal(getFlag(m, "advertise-client-urls"), "https://192.168.56.10:2379");
    assert.equal(getFlag(m, "listen-client-urls"), "https://127.0.0.1:2379,https://192.168.56.10:2379");
    assert.equal(getFlag(m, "initial-cluster"), "k8s-master=https://192.168.56.10:2380");
    assert.deepEqual(etcdPeerProblems(m, primary), []);
    // Everything else as it was.
    const keep = (x: StaticPodManifest) =>
      flagsWithout(x, [
        "initial-advertise-peer-urls",
        "listen-peer-urls",
        "advertise-client-urls",
        "listen-client-urls",
        "initial-cluster",
      ]);
    assert.deepEqual(keep(m), keep(parseManifest(old, "etcd.yaml")));
    assert.ok(r.changes.some((c) => c.startsWith("--listen-peer-urls: https://localhost:2380 →")));
  });

  it("is left alone once reachable (running it again changes nothing)", () => {
    const once = rewritePrimaryEtcdForPeers(old, primary);
    const twice = rewritePrimaryEtcdForPeers(once.text, primary);
    assert.equal(twice.changed, false);
    assert.equal(twice.text, once.text);
    assert.equal(rewritePrimaryEtcdForPeers(fixture("v1.24/etcd.yaml"), primary).changed, false);
  });

  it("still gives a new member real peer URLs when rendered from it", () => {
    const r = renderEtcdForNode(old, {
      primary,
      node: { name: "k8s-master-2", address: "192.168.56.12" },
      initialCluster: [{ name: "k8s-master", peerURL: "https://192.168.56.10:2380" }],
    });
    assert.equal(getFlag(r.manifest, "listen-peer-urls"), "https://192.168.56.12:2380");
    assert.equal(
      getFlag(r.manifest, "listen-client-urls"),
      "https://127.0.0.1:2379,https://192.168.56.12:2379",
    );
    assert.equal(getFlag(r.manifest, "advertise-client-urls"), "https://192.168.56.12:2379");
  });
});
