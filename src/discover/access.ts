import { posix } from "node:path";
import { KubeClient } from "../kube/client.js";
import { parseKubeconfig, type Material } from "../pki/kubeconfig.js";
import type { EtcdTls } from "../etcd/client.js";
import type { Forward, Host } from "../ssh/types.js";
import { readRequired, readSecret } from "./primary.js";
import { KUBEADM_LAYOUT } from "./layout.js";

/** The etcd client port every kubeadm member listens on at its loopback. */
export const ETCD_CLIENT_PORT = 2379;

/**
 * Reaching the cluster's APIs from the operator's machine: every connection is a port forwarded
 * through the host's SSH connection to its loopback, so nothing listens or opens on the hosts, and
 * every certificate is still checked against the name a real client would use.
 */
export class ClusterAccess {
  private readonly forwards: Forward[] = [];

  private constructor(
    readonly etcdTls: EtcdTls,
    private readonly kubeCreds: { ca: string; cert: string; key: string },
  ) {}

  /** Reads the etcd client certificate and the admin credentials from the primary. */
  static async open(primary: Host, certificatesDir: string): Promise<ClusterAccess> {
    const etcdDir = posix.join(certificatesDir, "etcd");
    const [etcdCa, cert, key, ca, adminConf] = await Promise.all([
      readRequired(primary, posix.join(etcdDir, "ca.crt")),
      readRequired(primary, posix.join(certificatesDir, "apiserver-etcd-client.crt")),
      readSecret(primary, posix.join(certificatesDir, "apiserver-etcd-client.key")),
      readRequired(primary, posix.join(certificatesDir, "ca.crt")),
      readSecret(primary, KUBEADM_LAYOUT.adminConf),
    ]);
    const admin = parseKubeconfig(adminConf, { file: `${primary.name}:${KUBEADM_LAYOUT.adminConf}` });
    const material = async (m: Material | undefined, what: string): Promise<string> => {
      if (!m) throw new Error(`${primary.name}:${KUBEADM_LAYOUT.adminConf} has no ${what}`);
      return m.pem ?? (await readSecret(primary, m.file));
    };
    const kubeCreds = {
      ca,
      cert: await material(admin.clientCert, "client certificate"),
      key: await material(admin.clientKey, "client key"),
    };
    return new ClusterAccess(
      { ca: Buffer.from(etcdCa), cert: Buffer.from(cert), key: Buffer.from(key) },
      kubeCreds,
    );
  }

  /** An etcd endpoint URL on this machine that reaches `host`'s member. */
  async etcdEndpoint(host: Host): Promise<string> {
    const fwd = await host.forward(ETCD_CLIENT_PORT);
    this.forwards.push(fwd);
    return `https://127.0.0.1:${fwd.localPort}`;
  }

  /** A client for the apiserver on `host`, whose certificate must be valid for `serverName`. */
  async kube(host: Host, port: number, serverName: string): Promise<KubeClient> {
    const fwd = await host.forward(port);
    this.forwards.push(fwd);
    return new KubeClient({
      connectHost: "127.0.0.1",
      connectPort: fwd.localPort,
      serverName,
      label: `apiserver on ${host.name}`,
      ...this.kubeCreds,
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.forwards.splice(0).map((f) => f.close()));
  }
}
