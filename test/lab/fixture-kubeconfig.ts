// Kubeconfigs in the exact shape kubeadm (client-go's clientcmd) writes them.
import { readFile, writeFile } from "node:fs/promises";

const b64 = async (path: string): Promise<string> => (await readFile(path)).toString("base64");

export type KubeconfigUser =
  { kind: "embedded"; cert: string; key: string } | { kind: "files"; cert: string; key: string };

/** Writes a kubeconfig for `user` against `server`, trusting caCrt (embedded). */
export async function writeKubeconfig(
  path: string,
  o: { server: string; caCrt: string; userName: string; contextName: string; user: KubeconfigUser },
): Promise<void> {
  const creds =
    o.user.kind === "embedded"
      ? [
          `    client-certificate-data: ${await b64(o.user.cert)}`,
          `    client-key-data: ${await b64(o.user.key)}`,
        ]
      : [`    client-certificate: ${o.user.cert}`, `    client-key: ${o.user.key}`];
  const text = [
    "apiVersion: v1",
    "clusters:",
    "- cluster:",
    `    certificate-authority-data: ${await b64(o.caCrt)}`,
    `    server: ${o.server}`,
    "  name: kubernetes",
    "contexts:",
    "- context:",
    "    cluster: kubernetes",
    `    user: ${o.userName}`,
    `  name: ${o.contextName}`,
    `current-context: ${o.contextName}`,
    "kind: Config",
    "preferences: {}",
    "users:",
    `- name: ${o.userName}`,
    "  user:",
    ...creds,
  ];
  await writeFile(path, text.join("\n") + "\n", { mode: 0o600 });
}

/** The kubeconfig in kube-public/cluster-info: CA and server only. */
export async function clusterInfoKubeconfig(server: string, caCrt: string): Promise<string> {
  return (
    [
      "apiVersion: v1",
      "clusters:",
      "- cluster:",
      `    certificate-authority-data: ${await b64(caCrt)}`,
      `    server: ${server}`,
      '  name: ""',
      "contexts: null",
      'current-context: ""',
      "kind: Config",
      "preferences: {}",
      "users: null",
    ].join("\n") + "\n"
  );
}
