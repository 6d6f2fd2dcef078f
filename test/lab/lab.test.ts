// The lab itself, checked with real clients (ssh, sudo, etcdctl, kubectl, openssl, nginx) from
// the workstation namespace. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { parse } from "yaml";
import { startLab, type Lab } from "./lab.js";
import { issueAll } from "./fixture-pki.js";
import { writeKubeconfig } from "./fixture-kubeconfig.js";
import { listNamespaces, namespacePids } from "./netns.js";
import { alive } from "./proc.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

describe("lab", { skip }, () => {
  let lab: Lab | undefined;
  let upMs = 0;
  const L = (): Lab => {
    if (!lab) throw new Error("lab did not start");
    return lab;
  };

  before(async () => {
    const t0 = Date.now();
    lab = await startLab();
    upMs = Date.now() - t0;
  });
  after(async () => {
    await lab?.stop();
  });

  test("comes up in under 30 seconds", () => {
    assert.ok(upMs < 30_000, `took ${upMs} ms`);
  });

  test("ssh to every host as its user, host key verified; sudo where configured", async () => {
    const l = L();
    await Promise.all(
      l.hosts.map(async (h) => {
        const r = await l.wsExec([
          "ssh",
          "-i",
          l.identityFile,
          "-o",
          `UserKnownHostsFile=${l.knownHostsFile}`,
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "BatchMode=yes",
          `${h.sshUser}@${h.address}`,
          h.sudo ? "hostname; id -un; sudo -n id -un" : "hostname; id -un",
        ]);
        assert.equal(r.code, 0, `${h.name}: ${r.stderr}`);
        assert.deepEqual(r.stdout.trim().split("\n"), h.sudo ? [h.name, "kubeha", "root"] : [h.name, "root"]);
      }),
    );
  });

  test("each host has its own /etc/kubernetes", async () => {
    const l = L();
    const ls = async (host: string): Promise<string[]> =>
      (await l.exec(host, ["ls", "/etc/kubernetes/manifests"])).stdout.split("\n").filter(Boolean);
    assert.deepEqual(await ls("master-1"), [
      "etcd.yaml",
      "kube-apiserver.yaml",
      "kube-controller-manager.yaml",
      "kube-scheduler.yaml",
    ]);
    assert.deepEqual(await ls("master-2"), []);
    const w = await l.exec("worker-1", ["ls", "/etc/kubernetes", "/etc/kubernetes/pki"]);
    assert.match(w.stdout, /kubelet\.conf/);
    assert.match(w.stdout, /ca\.crt/);
    assert.doesNotMatch(w.stdout, /admin\.conf/);
  });

  test("etcdctl over TLS with the healthcheck client lists one member and the filled keys", async () => {
    const l = L();
    const pki = join(l.primary.dir, "etc-kubernetes/pki/etcd");
    const etcdctl = [
      "etcdctl",
      `--endpoints=https://${l.primary.address}:2379`,
      `--cacert=${pki}/ca.crt`,
      `--cert=${pki}/healthcheck-client.crt`,
      `--key=${pki}/healthcheck-client.key`,
    ];
    const members = await l.wsExec([...etcdctl, "member", "list", "-w", "json"]);
    assert.equal(members.code, 0, members.stderr);
    assert.equal((JSON.parse(members.stdout) as { members: unknown[] }).members.length, 1);
    // etcdctl 3.4 has no --count-only: count the keys it lists.
    const keys = await l.wsExec([...etcdctl, "get", "/registry/", "--prefix", "--keys-only"]);
    assert.equal(keys.code, 0, keys.stderr);
    const count = keys.stdout.split("\n").filter((line) => line.startsWith("/registry/")).length;
    assert.ok(
      count >= l.fixture.filledKeys,
      `${count} keys under /registry, expected at least ${l.fixture.filledKeys}`,
    );
  });

  test("kubectl with admin.conf reads kubeadm's objects; a client cert from another CA is refused", async () => {
    const l = L();
    const kubectl = (kc: string, ...a: string[]) =>
      l.wsExec([
        "kubectl",
        "--kubeconfig",
        kc,
        "--request-timeout=5s",
        `--cache-dir=${join(l.dir, "kubectl-cache")}`,
        ...a,
      ]);
    const cm = await kubectl(
      l.adminKubeconfig,
      "get",
      "configmap",
      "kube-proxy",
      "-n",
      "kube-system",
      "-o",
      "json",
    );
    assert.equal(cm.code, 0, cm.stderr);
    assert.match(cm.stdout, new RegExp(`server: https://${l.primary.address.replace(/\./g, "\\.")}:6443`));
    const kc = await kubectl(
      l.adminKubeconfig,
      "get",
      "configmap",
      "kubeadm-config",
      "-n",
      "kube-system",
      "-o",
      "jsonpath={.data.ClusterConfiguration}",
    );
    const cc = parse(kc.stdout) as {
      networking: { serviceSubnet: string; podSubnet: string; dnsDomain: string };
      controlPlaneEndpoint?: string;
    };
    assert.deepEqual(cc.networking, {
      dnsDomain: l.fixture.domain,
      podSubnet: l.fixture.podCidr,
      serviceSubnet: l.fixture.serviceCidr,
    });
    assert.equal(cc.controlPlaneEndpoint, undefined);
    const node = await kubectl(l.adminKubeconfig, "get", "node", "master-1", "-o", "json");
    assert.equal(node.code, 0, node.stderr);
    assert.match(node.stdout, /"key": "node-role.kubernetes.io\/control-plane"/);

    const dir = await mkdtemp(join(tmpdir(), "khl-foreign-"));
    try {
      const ca = join(dir, "ca");
      await issueAll([
        { base: ca, subject: "/CN=kubernetes" },
        { base: join(dir, "admin"), subject: "/O=system:masters/CN=kubernetes-admin", ca },
      ]);
      const foreign = join(dir, "foreign.conf");
      const clusterCa = join(l.primary.dir, "etc-kubernetes/pki/ca.crt");
      await writeKubeconfig(foreign, {
        server: `https://${l.primary.address}:6443`,
        caCrt: clusterCa,
        userName: "x",
        contextName: "x",
        user: { kind: "embedded", cert: join(dir, "admin.crt"), key: join(dir, "admin.key") },
      });
      const refused = await kubectl(foreign, "get", "configmap", "kube-proxy", "-n", "kube-system");
      assert.notEqual(refused.code, 0, "a foreign client certificate was accepted");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("openssl verify accepts every fixture certificate against its CA", async () => {
    const l = L();
    const pki = join(l.primary.dir, "etc-kubernetes/pki");
    const signedBy: Record<string, string[]> = {
      "ca.crt": ["apiserver.crt", "apiserver-kubelet-client.crt"],
      "front-proxy-ca.crt": ["front-proxy-client.crt"],
      "etcd/ca.crt": [
        "apiserver-etcd-client.crt",
        "etcd/server.crt",
        "etcd/peer.crt",
        "etcd/healthcheck-client.crt",
      ],
    };
    const dir = await mkdtemp(join(tmpdir(), "khl-verify-"));
    try {
      // Certificates embedded in kubeconfigs and the kubelets' rotated client certificates.
      const embedded: string[] = [];
      for (const conf of ["admin", "super-admin", "controller-manager", "scheduler"]) {
        const kc = parse(await readFile(join(l.primary.dir, `etc-kubernetes/${conf}.conf`), "utf8")) as {
          users: { user: Record<string, string> }[];
        };
        const file = join(dir, `${conf}.crt`);
        await writeFile(file, Buffer.from(kc.users[0]?.user["client-certificate-data"] ?? "", "base64"));
        embedded.push(file);
      }
      for (const h of [l.primary, ...l.workers])
        embedded.push(
          join(
            h.dir,
            "var-lib-kubelet/pki",
            (await l.exec(h.name, ["readlink", "/var/lib/kubelet/pki/kubelet-client-current.pem"])).stdout
              .trim()
              .split("/")
              .pop() ?? "",
          ),
        );
      const checks = [
        ...Object.entries(signedBy).flatMap(([ca, certs]) =>
          certs.map((c) => [join(pki, ca), join(pki, c)] as const),
        ),
        ...embedded.map((c) => [join(pki, "ca.crt"), c] as const),
      ];
      for (const [ca, cert] of checks) {
        const r = await l.wsExec(["openssl", "verify", "-CAfile", ca, cert]);
        assert.equal(r.code, 0, `${cert}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("nginx on the LB passes nginx -t with a stream block", async () => {
    const l = L();
    const script = [
      "set -e",
      "d=$(mktemp -d)",
      "cp -a /etc/nginx/. $d/",
      `printf 'stream {\\n  upstream api { server ${l.primary.address}:6443; }\\n  server { listen 6443; proxy_pass api; }\\n}\\n' >> $d/nginx.conf`,
      "nginx -t -c $d/nginx.conf",
      "rm -rf $d",
    ].join("\n");
    const r = await l.exec("lb", ["sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /test is successful/);
  });

  test("stop leaves no process, namespace or file behind", async () => {
    const l = L();
    const inNamespaces = await Promise.all(
      (await listNamespaces()).filter((n) => n.startsWith(`khl${l.id}-`)).map(namespacePids),
    );
    const pids = [...l.pids(), ...inNamespaces.flat()];
    assert.ok(pids.length > l.hosts.length * 3, "expected anchors, sshd, kubelets and pods to be running");
    lab = undefined;
    await l.stop();
    assert.deepEqual(pids.filter(alive), []);
    assert.deepEqual(
      (await listNamespaces()).filter((n) => n.startsWith(`khl${l.id}-`)),
      [],
    );
    assert.equal(existsSync(l.dir), false);
    assert.equal(existsSync(`/etc/netns/${l.wsNs}`), false);
  });
});
