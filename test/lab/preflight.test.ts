// Preflight against the lab, one scenario after another on one lab (each puts the lab back): a new
// master whose runtime is down, uses another cgroup driver, or cannot pull an image; a foreign etcd
// learner; a stray copy of a manifest on the primary. Each is refused with exit 2 before any change
// (an LB whose nginx already has a stream {} block: lb-merge.test.ts); a
// certificates directory other than kubeadm's. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startLab, type Lab } from "./lab.js";
import { writeRuntime, type LabRuntime } from "./hosts.js";
import { controlPlaneImages } from "./fixture-spec.js";
import { kubeha } from "./kubeha.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

const PKI = "/etc/kubernetes/pki";
const ETCDCTL = [
  "etcdctl",
  "--endpoints=https://127.0.0.1:2379",
  `--cacert=${PKI}/etcd/ca.crt`,
  `--cert=${PKI}/etcd/healthcheck-client.crt`,
  `--key=${PKI}/etcd/healthcheck-client.key`,
];

describe("preflight refuses before any change", { skip }, () => {
  let lab: Lab | undefined;
  let images: string[] = [];
  let nginxConf = "";
  before(async () => {
    lab = await startLab({ workers: 0, bulkKeys: 0 });
    images = controlPlaneImages(lab.fixture.version);
    nginxConf = (await lab.exec("lb", ["cat", "/etc/nginx/nginx.conf"])).stdout;
  });
  after(async () => {
    await lab?.stop();
  });

  const cli = (...args: string[]) => kubeha(lab!, [...args, "-i", lab!.inventoryFile]);
  const runtime = (host: string, r: LabRuntime) => writeRuntime(lab!.host(host), r, images);
  const members = async () =>
    (await lab!.exec("master-1", [...ETCDCTL, "member", "list"])).stdout.trim().split("\n").filter(Boolean);

  /** Nothing of the cluster or the LB was touched: no stream.d file, no backup, one etcd member. */
  async function unchanged(): Promise<void> {
    const l = lab!;
    assert.equal((await l.exec("lb", ["cat", "/etc/nginx/nginx.conf"])).stdout, nginxConf);
    assert.equal((await l.exec("lb", ["test", "-e", "/etc/nginx/stream.d/kubeha-apiservers.conf"])).code, 1);
    for (const m of ["master-2", "master-3"])
      assert.equal((await l.exec(m, ["ls", "-A", "/etc/kubernetes/manifests"])).stdout.trim(), "");
    assert.equal((await members()).length, 1);
    assert.equal((await l.wsExec(["test", "-e", `${l.stateDir}/backups`])).code, 1, "no backup was taken");
  }

  test("the lab's default runtime passes: discover exits 0", async () => {
    const r = await cli("discover");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /apply will pull/);
  });

  test("a new master whose runtime does not answer: exit 2 naming the host and crictl's error", async () => {
    await runtime("master-2", { down: true });
    try {
      const d = await cli("discover");
      assert.equal(d.code, 2, d.stdout + d.stderr);
      assert.match(
        d.stdout,
        /master-2: the container runtime does not answer \(crictl info failed: .*containerd\.sock: connect: connection refused/,
      );
      const p = await cli("plan");
      assert.equal(p.code, 2, p.stdout + p.stderr);
      assert.match(p.stderr, /preflight refused.*\n.*master-2: the container runtime does not answer/);
      await unchanged();
    } finally {
      await runtime("master-2", {});
    }
  });

  test("a new master whose runtime uses another cgroup driver than the kubelet configuration: exit 2", async () => {
    const conf = "/var/lib/kubelet/config.yaml";
    await lab!.exec("master-1", [
      "sh",
      "-c",
      `printf 'apiVersion: kubelet.config.k8s.io/v1beta1\\nkind: KubeletConfiguration\\ncgroupDriver: systemd\\n' > ${conf}`,
    ]);
    await runtime("master-3", { cgroupDriver: "cgroupfs" });
    try {
      const d = await cli("discover");
      assert.equal(d.code, 2, d.stdout + d.stderr);
      assert.match(
        d.stdout,
        /master-3: the container runtime uses the cgroupfs cgroup driver, but .* cgroupDriver: systemd/,
      );
      assert.doesNotMatch(d.stdout, /master-2: the container runtime uses/);
      await unchanged();
    } finally {
      await runtime("master-3", {});
      await lab!.exec("master-1", ["rm", "-f", conf]);
    }
  });

  test("images missing: discover names what apply will pull; apply pulls, and a host that cannot pull stops it with exit 2", async () => {
    await runtime("master-2", { images: "none" });
    await runtime("master-3", { images: "none", pullFails: true });
    try {
      const d = await cli("discover");
      assert.equal(d.code, 0, d.stdout + d.stderr);
      for (const m of ["master-2", "master-3"])
        assert.match(
          d.stdout,
          new RegExp(
            `${m}: not present, apply will pull them before changing anything: ${images.join(", ")}`,
          ),
        );
      const a = await cli("apply", "--yes");
      assert.equal(a.code, 2, a.stdout + a.stderr);
      assert.match(a.stdout, /\[master-2\] pulled registry\.k8s\.io\/etcd:/);
      assert.match(
        a.stderr,
        new RegExp(
          `master-3: cannot pull ${images[0]!.replace(/[.]/g, "\\.")}: .*lookup registry\\.k8s\\.io: no such host; nothing was changed`,
        ),
      );
      // master-2 has its images now; master-3 still has none.
      const present = async (h: string) =>
        Promise.all(
          images.map(async (i) => (await lab!.exec(h, ["crictl", "inspecti", "-q", i])).code === 0),
        );
      assert.deepEqual(
        await present("master-2"),
        images.map(() => true),
      );
      assert.deepEqual(
        await present("master-3"),
        images.map(() => false),
      );
      await unchanged();
    } finally {
      await runtime("master-2", {});
      await runtime("master-3", {});
    }
  });

  test("a foreign etcd learner: exit 2, named as not ours with its peer URL, and the printed command removes it", async () => {
    const l = lab!;
    const peer = `https://${l.primary.address.replace(/\.\d+$/, ".99")}:2380`;
    const add = await l.exec("master-1", [
      ...ETCDCTL,
      "member",
      "add",
      "intruder",
      "--learner",
      `--peer-urls=${peer}`,
    ]);
    assert.equal(add.code, 0, add.stderr);
    // etcdctl pads the hex ID to 16 columns.
    const id = /Member\s+([0-9a-f]+) added/.exec(add.stdout)?.[1];
    assert.ok(id, add.stdout);
    if (!id) return;
    try {
      const d = await cli("discover");
      assert.equal(d.code, 2, d.stdout + d.stderr);
      assert.match(
        d.stdout,
        new RegExp(
          `learner \\(not started\\) \\(id ${id}, peer ${peer.replace(/\./g, "\\.")}\\) is not one of the inventory's hosts`,
        ),
      );
      // (The references report after the findings may name what apply changes; the learner's advice may not.)
      assert.doesNotMatch(d.stdout.split("references to the primary's apiserver")[0]!, /kubeha apply/);
      const p = await cli("plan");
      assert.equal(p.code, 2, p.stdout + p.stderr);
      const command = /on master-1 as root: (etcdctl .* member remove [0-9a-f]+)$/m.exec(d.stdout)?.[1];
      assert.ok(command?.endsWith(`member remove ${id}`), d.stdout);
      if (!command) return;
      // The advice works as printed.
      const removed = await l.exec("master-1", ["sh", "-c", command]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((await members()).length, 1);
      assert.equal((await cli("discover")).code, 0);
    } finally {
      // Whatever failed above, the next scenario starts from one member.
      if ((await members()).length > 1) await l.exec("master-1", [...ETCDCTL, "member", "remove", id]);
    }
  });

  test("a copy of a control-plane manifest left in the primary's manifests directory: exit 2 naming it", async () => {
    const l = lab!;
    const copy = "/etc/kubernetes/manifests/kube-scheduler.yaml.bak";
    await l.exec("master-1", ["cp", "-p", "/etc/kubernetes/manifests/kube-scheduler.yaml", copy]);
    try {
      for (const cmd of ["discover", "plan"]) {
        const r = await cli(cmd);
        assert.equal(r.code, 2, `${cmd}: ${r.stdout}${r.stderr}`);
        assert.match(
          r.stdout + r.stderr,
          /master-1: \/etc\/kubernetes\/manifests holds copies of control-plane manifests \(kube-scheduler\.yaml\.bak\)/,
          cmd,
        );
      }
      await unchanged();
    } finally {
      await l.exec("master-1", ["rm", "-f", copy]);
    }
    assert.equal((await cli("discover")).code, 0);
  });

  test("a certificates directory other than kubeadm's default: exit 2 naming it, before any change", async () => {
    const l = lab!;
    const manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml";
    const original = (await l.exec("master-1", ["cat", manifest])).stdout;
    // Ready, and running from the manifest as it is now (the kubelet stand-in restarts it on a change).
    const ready = async (customPki: boolean) => {
      for (let i = 0; i < 600; i++) {
        const ps = await l.exec("master-1", [
          "sh",
          "-c",
          "ps -eo args | grep -c '[c]lient-ca-file=/etc/kubernetes/custom-pki'",
        ]);
        const r = await l.wsExec(["kubectl", "--kubeconfig", l.adminKubeconfig, "get", "--raw", "/readyz"]);
        if ((ps.stdout.trim() !== "0") === customPki && r.stdout.trim() === "ok") return;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.fail("the primary's apiserver did not come back");
    };
    // The same certificates in another directory, named by the apiserver's --client-ca-file.
    await l.exec("master-1", ["cp", "-a", PKI, "/etc/kubernetes/custom-pki"]);
    const custom = original.replace(
      `--client-ca-file=${PKI}/ca.crt`,
      "--client-ca-file=/etc/kubernetes/custom-pki/ca.crt",
    );
    assert.notEqual(custom, original);
    await l.exec("master-1", ["sh", "-c", `cat > ${manifest}`], { stdin: custom });
    try {
      await ready(true);
      for (const cmd of [["plan"], ["apply", "--yes"]]) {
        const r = await cli(...cmd);
        assert.equal(r.code, 2, `${cmd[0]}: ${r.stdout}${r.stderr}`);
        assert.match(
          r.stdout + r.stderr,
          /master-1: certificatesDir is \/etc\/kubernetes\/custom-pki \(from kube-apiserver's --client-ca-file\), not \/etc\/kubernetes\/pki/,
          cmd[0],
        );
      }
      await unchanged();
    } finally {
      await l.exec("master-1", ["sh", "-c", `cat > ${manifest}`], { stdin: original });
      await ready(false);
      await l.exec("master-1", ["rm", "-rf", "/etc/kubernetes/custom-pki"]);
    }
  });
});
