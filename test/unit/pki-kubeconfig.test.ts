import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../../src/errors.js";
import { parseKubeconfig, renderKubeconfig, serverUrl, setServer } from "../../src/pki/kubeconfig.js";

const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN RSA PRIVATE KEY-----\nKEY\n-----END RSA PRIVATE KEY-----\n";
const b64 = (s: string): string => Buffer.from(s).toString("base64");

/** As kubeadm writes kubelet.conf after the kubelet's first rotation, plus an operator's comment. */
const KUBELET_CONF = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${b64(CA)}
    # pointed at the first master by kubeadm init
    server: https://10.0.0.11:6443
  name: kubernetes
- cluster:
    server: "https://other.example.com:443"   # another cluster, untouched
  name: other
contexts:
- context:
    cluster: kubernetes
    user: system:node:master-1
  name: system:node:master-1@kubernetes
current-context: system:node:master-1@kubernetes
kind: Config
preferences: {}
users:
- name: system:node:master-1
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
`;

describe("kubeconfig", () => {
  it("renders kubeadm's layout and reads back what it rendered", () => {
    const text = renderKubeconfig({
      server: "https://api.example.com:6443",
      caPem: CA,
      user: "kubernetes-admin",
      clientCertPem: CERT,
      clientKeyPem: KEY,
    });
    assert.match(
      text,
      /^apiVersion: v1\nclusters:\n- cluster:\n {4}certificate-authority-data: \S+\n {4}server: https:\/\/api.example.com:6443\n {2}name: kubernetes\n/,
    );
    assert.match(text, /\ncurrent-context: kubernetes-admin@kubernetes\nkind: Config\n/);
    assert.deepEqual(parseKubeconfig(text), {
      contextName: "kubernetes-admin@kubernetes",
      clusterName: "kubernetes",
      userName: "kubernetes-admin",
      server: "https://api.example.com:6443",
      ca: { pem: CA },
      clientCert: { pem: CERT },
      clientKey: { pem: KEY },
    });
  });

  it("reads file references, resolving relative paths against the kubeconfig's directory", () => {
    const text = KUBELET_CONF.replace(
      "client-key: /var/lib/kubelet/pki/kubelet-client-current.pem",
      "client-key: pki/key.pem",
    );
    const kc = parseKubeconfig(text, { baseDir: "/etc/kubernetes" });
    assert.equal(kc.server, "https://10.0.0.11:6443");
    assert.deepEqual(kc.clientCert, { file: "/var/lib/kubelet/pki/kubelet-client-current.pem" });
    assert.deepEqual(kc.clientKey, { file: "/etc/kubernetes/pki/key.pem" });
    assert.deepEqual(kc.ca, { pem: CA });
  });

  it("setServer changes only the server line of the current context's cluster", () => {
    const out = setServer(KUBELET_CONF, "https://api.example.com:6443");
    const before = KUBELET_CONF.split("\n");
    const afterLines = out.split("\n");
    assert.equal(afterLines.length, before.length);
    const changed = before.flatMap((line, i) => (line === afterLines[i] ? [] : [[line, afterLines[i]]]));
    assert.deepEqual(changed, [
      ["    server: https://10.0.0.11:6443", "    server: https://api.example.com:6443"],
    ]);
    assert.equal(parseKubeconfig(out).server, "https://api.example.com:6443");
  });

  it("setServer keeps the quoting style and can target another cluster by name", () => {
    const out = setServer(KUBELET_CONF, "https://[fd00::20]:6443", { cluster: "other" });
    assert.ok(out.includes(`server: "https://[fd00::20]:6443"   # another cluster, untouched`));
    assert.equal(out.replace(`"https://[fd00::20]:6443"`, `"https://other.example.com:443"`), KUBELET_CONF);
  });

  it("refuses a server that is not an https URL, and a cluster that is not there", () => {
    assert.throws(
      () => setServer(KUBELET_CONF, "http://10.0.0.20:6443"),
      (e: unknown) => e instanceof InputError && /must be an https/.test(e.message),
    );
    assert.throws(
      () => setServer(KUBELET_CONF, "https://x:1", { cluster: "nope", file: "/etc/kubernetes/kubelet.conf" }),
      /\/etc\/kubernetes\/kubelet.conf: cluster "nope" has no server to change/,
    );
    assert.throws(() => parseKubeconfig("a: [", { file: "admin.conf" }), /admin.conf: not valid YAML/);
  });

  it("serverUrl brackets IPv6 hosts", () => {
    assert.equal(serverUrl("fd00::20", 6443), "https://[fd00::20]:6443");
    assert.equal(serverUrl("10.0.0.20", 443), "https://10.0.0.20:443");
  });
});
