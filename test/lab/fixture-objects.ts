// The API objects `kubeadm init` leaves behind, as the JSON a real apiserver stores in etcd
// with --storage-media-type=application/json (keys /registry/<resource>/<namespace>/<name>).
import { randomUUID } from "node:crypto";
import { minor, type ClusterSpec } from "./fixture-spec.js";

export interface StoredObject {
  key: string;
  value: string;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const meta = (
  name: string,
  namespace?: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  name,
  ...(namespace ? { namespace } : {}),
  uid: randomUUID(),
  creationTimestamp: now(),
  ...extra,
});

function stored(
  resource: string,
  obj: { metadata: Record<string, unknown> } & Record<string, unknown>,
): StoredObject {
  const ns = obj.metadata["namespace"];
  const name = String(obj.metadata["name"]);
  return {
    key: `/registry/${resource}/${typeof ns === "string" ? `${ns}/` : ""}${name}`,
    value: JSON.stringify(obj),
  };
}

/** ClusterConfiguration as kubeadm uploads it: v1beta3 before 1.31's v1beta4, no controlPlaneEndpoint. */
export function clusterConfiguration(s: ClusterSpec): string {
  const v4 = minor(s.version) >= 31;
  return (
    [
      v4 ? "apiServer: {}" : "apiServer:",
      ...(v4 ? [] : ["  extraArgs:", "    authorization-mode: Node,RBAC", "  timeoutForControlPlane: 4m0s"]),
      `apiVersion: kubeadm.k8s.io/${v4 ? "v1beta4" : "v1beta3"}`,
      ...(v4 ? ["caCertificateValidityPeriod: 87600h0m0s", "certificateValidityPeriod: 8760h0m0s"] : []),
      "certificatesDir: /etc/kubernetes/pki",
      "clusterName: kubernetes",
      "controllerManager: {}",
      "dns: {}",
      ...(v4 ? ["encryptionAlgorithm: RSA-2048"] : []),
      "etcd:",
      "  local:",
      "    dataDir: /var/lib/etcd",
      "imageRepository: registry.k8s.io",
      "kind: ClusterConfiguration",
      `kubernetesVersion: v${s.version}`,
      "networking:",
      `  dnsDomain: ${s.domain}`,
      `  podSubnet: ${s.podCidr}`,
      `  serviceSubnet: ${s.serviceCidr}`,
      ...(v4 ? ["proxy: {}"] : []),
      "scheduler: {}",
    ].join("\n") + "\n"
  );
}

function kubeProxyConfig(s: ClusterSpec): string {
  return (
    [
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1",
      "bindAddress: 0.0.0.0",
      "bindAddressHardFail: false",
      "clientConnection:",
      '  acceptContentTypes: ""',
      "  burst: 0",
      '  contentType: ""',
      "  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf",
      "  qps: 0",
      `clusterCIDR: ${s.podCidr}`,
      "configSyncPeriod: 0s",
      "conntrack:",
      "  maxPerCore: null",
      "  min: null",
      "enableProfiling: false",
      'healthzBindAddress: ""',
      'hostnameOverride: ""',
      "iptables:",
      "  masqueradeAll: false",
      "  masqueradeBit: null",
      "  minSyncPeriod: 0s",
      "  syncPeriod: 0s",
      "kind: KubeProxyConfiguration",
      'metricsBindAddress: ""',
      'mode: ""',
      "nodePortAddresses: null",
      "oomScoreAdj: null",
      'portRange: ""',
    ].join("\n") + "\n"
  );
}

function kubeProxyKubeconfig(server: string): string {
  return (
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- cluster:",
      "    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
      `    server: ${server}`,
      "  name: default",
      "contexts:",
      "- context:",
      "    cluster: default",
      "    namespace: default",
      "    user: default",
      "  name: default",
      "current-context: default",
      "users:",
      "- name: default",
      "  user:",
      "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
    ].join("\n") + "\n"
  );
}

function kubeProxyDaemonSet(s: ClusterSpec): Record<string, unknown> & { metadata: Record<string, unknown> } {
  const labels = { "k8s-app": "kube-proxy" };
  return {
    kind: "DaemonSet",
    apiVersion: "apps/v1",
    metadata: meta("kube-proxy", "kube-system", { labels, generation: 1 }),
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "kube-proxy",
              image: `registry.k8s.io/kube-proxy:v${s.version}`,
              command: [
                "/usr/local/bin/kube-proxy",
                "--config=/var/lib/kube-proxy/config.conf",
                "--hostname-override=$(NODE_NAME)",
              ],
              env: [
                {
                  name: "NODE_NAME",
                  valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } },
                },
              ],
              volumeMounts: [
                { name: "kube-proxy", mountPath: "/var/lib/kube-proxy" },
                { name: "xtables-lock", mountPath: "/run/xtables.lock" },
                { name: "lib-modules", readOnly: true, mountPath: "/lib/modules" },
              ],
              securityContext: { privileged: true },
              imagePullPolicy: "IfNotPresent",
            },
          ],
          volumes: [
            { name: "kube-proxy", configMap: { name: "kube-proxy", defaultMode: 420 } },
            { name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } },
            { name: "lib-modules", hostPath: { path: "/lib/modules", type: "" } },
          ],
          restartPolicy: "Always",
          nodeSelector: { "kubernetes.io/os": "linux" },
          serviceAccountName: "kube-proxy",
          hostNetwork: true,
          tolerations: [{ operator: "Exists" }],
          priorityClassName: "system-node-critical",
        },
      },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
    },
    status: {},
  };
}

const configMap = (name: string, namespace: string, data: Record<string, string>): StoredObject =>
  stored("configmaps", { kind: "ConfigMap", apiVersion: "v1", metadata: meta(name, namespace), data });

/** Namespaces, kubeadm's ConfigMaps and the kube-proxy DaemonSet; server is https://<primary>:6443. */
export function kubeadmObjects(s: ClusterSpec, server: string, clusterInfo: string): StoredObject[] {
  const namespaces = ["default", "kube-system", "kube-public", "kube-node-lease", "lab-data"].map((n) =>
    stored("namespaces", {
      kind: "Namespace",
      apiVersion: "v1",
      metadata: meta(n, undefined, { labels: { "kubernetes.io/metadata.name": n } }),
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    }),
  );
  return [
    ...namespaces,
    configMap("kubeadm-config", "kube-system", { ClusterConfiguration: clusterConfiguration(s) }),
    configMap("kube-proxy", "kube-system", {
      "config.conf": kubeProxyConfig(s),
      "kubeconfig.conf": kubeProxyKubeconfig(server),
    }),
    configMap("cluster-info", "kube-public", { kubeconfig: clusterInfo }),
    stored("daemonsets", kubeProxyDaemonSet(s)),
  ];
}

/** Application-like bulk data: `count` ConfigMaps of ~1.5 KiB in namespace lab-data. */
export function bulkConfigMap(i: number): StoredObject {
  const name = `app-config-${String(i).padStart(5, "0")}`;
  const payload = Array.from({ length: 12 }, (_, k) => [`setting-${k}`, `${name}-${k}-`.repeat(6)]);
  return configMap(name, "lab-data", Object.fromEntries(payload));
}

/** An operator's kubeconfig: a server and a bearer token (which no output of kubeha may show). */
export function tokenKubeconfig(server: string, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster:",
    `    server: ${server}`,
    "  name: lab",
    "contexts:",
    "- context: {cluster: lab, user: ops}",
    "  name: ops",
    "current-context: ops",
    "users:",
    "- name: ops",
    "  user:",
    `    token: ${token}`,
    "",
  ].join("\n");
}

/** The token in the lab's ops kubeconfig Secret: no output of kubeha may ever hold it. */
export const LAB_SECRET_TOKEN = "kubeha-lab-secret-token-9d41c0e7a2b5";

/**
 * Objects that name the primary's apiserver directly, as a cluster collects over the years: a
 * CNI agent configured like Cilium (a DaemonSet with KUBERNETES_SERVICE_HOST/PORT and a ConfigMap
 * with k8s-service-host/k8s-service-port), a monitoring Deployment with the endpoint in its args,
 * and an operator's kubeconfig kept in a Secret. `kubeha references` must find each of them.
 */
export function referenceObjects(address: string, port: number): StoredObject[] {
  const labels = { "k8s-app": "cni-agent" };
  const kubeconfig = tokenKubeconfig(`https://${address}:${port}`, LAB_SECRET_TOKEN);
  const container = (name: string, extra: Record<string, unknown>) => ({
    name,
    image: `registry.example/${name}:1.0`,
    imagePullPolicy: "IfNotPresent",
    ...extra,
  });
  return [
    configMap("cni-config", "kube-system", {
      "k8s-service-host": address,
      "k8s-service-port": String(port),
      "cluster-pool-ipv4-cidr": "10.244.0.0/16",
      "enable-ipv4": "true",
    }),
    stored("daemonsets", {
      kind: "DaemonSet",
      apiVersion: "apps/v1",
      metadata: meta("cni-agent", "kube-system", { labels, generation: 1 }),
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              container("cni-agent", {
                args: ["--config-dir=/tmp/cni-config"],
                env: [
                  { name: "KUBERNETES_SERVICE_HOST", value: address },
                  { name: "KUBERNETES_SERVICE_PORT", value: String(port) },
                  {
                    name: "NODE_NAME",
                    valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } },
                  },
                ],
              }),
            ],
            hostNetwork: true,
            tolerations: [{ operator: "Exists" }],
          },
        },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      },
      status: {},
    }),
    stored("deployments", {
      kind: "Deployment",
      apiVersion: "apps/v1",
      metadata: meta("metrics-agent", "lab-data", { labels: { app: "metrics-agent" }, generation: 1 }),
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "metrics-agent" } },
        template: {
          metadata: { labels: { app: "metrics-agent" } },
          spec: {
            containers: [container("metrics-agent", { args: [`--apiserver=https://${address}:${port}`] })],
          },
        },
      },
      status: {},
    }),
    stored("secrets", {
      kind: "Secret",
      apiVersion: "v1",
      metadata: meta("ops-kubeconfig", "lab-data"),
      type: "Opaque",
      data: { kubeconfig: Buffer.from(kubeconfig).toString("base64") },
    }),
  ];
}
