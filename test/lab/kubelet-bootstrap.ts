/**
 * The kubelet's TLS bootstrap, as `kubeadm join` expects it: with no kubelet.conf but a
 * bootstrap-kubelet.conf (bootstrap token), the kubelet makes a key, asks for a client certificate
 * for system:node:<name> with a CertificateSigningRequest, which the real controller-manager approves
 * and signs, then writes /var/lib/kubelet/pki/kubelet-client-current.pem and a kubelet.conf that
 * points at it. The node name is kubeadm's --hostname-override (kubeadm-flags.env) when set.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { kubeRequest, loadTokenKubeconfig } from "./standin-kubeconfig.js";

const CSR_TIMEOUT_MS = 60_000;

/** kubeadm's --hostname-override in the kubelet's flags file, if any. */
export function hostnameOverride(rootDir: string): string | undefined {
  const file = join(rootDir, "kubeadm-flags.env");
  if (!existsSync(file)) return undefined;
  return /--hostname-override=([^\s"]+)/.exec(readFileSync(file, "utf8"))?.[1];
}

export async function tlsBootstrap(
  kubeconfig: string,
  bootstrapKubeconfig: string,
  rootDir: string,
  nodeName: string,
): Promise<string> {
  const t = loadTokenKubeconfig(bootstrapKubeconfig);
  // A P-256 key and CSR, as the kubelet makes them.
  const pem = join(rootDir, "pki/kubelet-client-current.pem");
  const keyFile = join(rootDir, "pki/kubelet-client.key.tmp");
  mkdirSync(dirname(pem), { recursive: true });
  execFileSync("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    keyFile,
  ]);
  const subject = `/O=system:nodes/CN=system:node:${nodeName}`;
  const csr = execFileSync("openssl", ["req", "-new", "-key", keyFile, "-subj", subject]);
  const key = readFileSync(keyFile);
  rmSync(keyFile);
  const collection = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
  const created = await kubeRequest(t, "POST", collection, {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { generateName: "csr-" },
    spec: {
      request: csr.toString("base64"),
      signerName: "kubernetes.io/kube-apiserver-client-kubelet",
      usages: ["digital signature", "client auth"],
    },
  });
  if (created.status !== 201) throw new Error(`creating the CSR: ${created.status} ${created.body}`);
  const name = (JSON.parse(created.body) as { metadata: { name: string } }).metadata.name;
  let cert = "";
  for (const deadline = Date.now() + CSR_TIMEOUT_MS; !cert;) {
    if (Date.now() > deadline) throw new Error(`CSR ${name} not signed within ${CSR_TIMEOUT_MS / 1000}s`);
    await new Promise((r) => setTimeout(r, 500));
    const got = await kubeRequest(t, "GET", `${collection}/${name}`);
    if (got.status !== 200) continue;
    const status = (JSON.parse(got.body) as { status?: { certificate?: string } }).status;
    cert = status?.certificate ? Buffer.from(status.certificate, "base64").toString() : "";
  }
  writeFileSync(pem, cert + key.toString(), { mode: 0o600 });
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ${t.ca.toString("base64")}
    server: ${t.server}
  name: default-cluster
contexts:
- context:
    cluster: default-cluster
    namespace: default
    user: default-auth
  name: default-context
current-context: default-context
users:
- name: default-auth
  user:
    client-certificate: ${pem}
    client-key: ${pem}
`,
    { mode: 0o600 },
  );
  return `TLS bootstrap: CSR ${name} signed for system:node:${nodeName}; wrote ${kubeconfig}`;
}
