// The four static pod manifests exactly as `kubeadm init` writes them for the chosen version.
import { etcdImage, minor, type ClusterSpec } from "./fixture-spec.js";

type ProbeKind = "livenessProbe" | "readinessProbe" | "startupProbe";

function probe(
  kind: ProbeKind,
  host: string,
  path: string,
  port: number,
  scheme: "HTTP" | "HTTPS",
): string[] {
  const readiness = kind === "readinessProbe";
  return [
    `    ${kind}:`,
    `      failureThreshold: ${readiness ? 3 : kind === "startupProbe" ? 24 : 8}`,
    "      httpGet:",
    `        host: ${host}`,
    `        path: ${path}`,
    `        port: ${port}`,
    `        scheme: ${scheme}`,
    ...(readiness ? [] : ["      initialDelaySeconds: 10"]),
    `      periodSeconds: ${readiness ? 1 : 10}`,
    "      timeoutSeconds: 15",
  ];
}

interface Volume {
  name: string;
  path: string;
  type: "DirectoryOrCreate" | "FileOrCreate";
  readOnly: boolean;
}

interface PodSpec {
  name: string;
  annotation?: string;
  command: string[];
  image: string;
  liveness: string[];
  readiness?: string[];
  startup: string[];
  cpu: string;
  memory?: string;
  /** kubeadm 1.24 left the resolved `priority` out. */
  priority: boolean;
  /** Mounts in kubeadm's order (sorted by name except etcd's); volumes are always sorted by name. */
  volumes: Volume[];
}

/** Fields in the order Go's YAML marshalling emits them. */
function pod(o: PodSpec): string {
  const vols = [...o.volumes].sort((a, b) => a.name.localeCompare(b.name));
  return (
    [
      "apiVersion: v1",
      "kind: Pod",
      "metadata:",
      ...(o.annotation ? ["  annotations:", `    ${o.annotation}`] : []),
      "  creationTimestamp: null",
      "  labels:",
      `    component: ${o.name}`,
      "    tier: control-plane",
      `  name: ${o.name}`,
      "  namespace: kube-system",
      "spec:",
      "  containers:",
      "  - command:",
      ...o.command.map((c) => `    - ${c}`),
      `    image: ${o.image}`,
      "    imagePullPolicy: IfNotPresent",
      ...o.liveness,
      `    name: ${o.name}`,
      ...(o.readiness ?? []),
      "    resources:",
      "      requests:",
      `        cpu: ${o.cpu}`,
      ...(o.memory ? [`        memory: ${o.memory}`] : []),
      ...o.startup,
      "    volumeMounts:",
      ...o.volumes.flatMap((v) => [
        `    - mountPath: ${v.path}`,
        `      name: ${v.name}`,
        ...(v.readOnly ? ["      readOnly: true"] : []),
      ]),
      "  hostNetwork: true",
      ...(o.priority ? ["  priority: 2000001000"] : []),
      "  priorityClassName: system-node-critical",
      "  securityContext:",
      "    seccompProfile:",
      "      type: RuntimeDefault",
      "  volumes:",
      ...vols.flatMap((v) => [
        "  - hostPath:",
        `      path: ${v.path}`,
        `      type: ${v.type}`,
        `    name: ${v.name}`,
      ]),
      "status: {}",
    ].join("\n") + "\n"
  );
}

const byName = (vs: Volume[]): Volume[] => [...vs].sort((a, b) => a.name.localeCompare(b.name));
const dir = (name: string, path: string, readOnly = true): Volume => ({
  name,
  path,
  type: "DirectoryOrCreate",
  readOnly,
});
const CA_VOLUMES = [
  dir("ca-certs", "/etc/ssl/certs"),
  dir("etc-ca-certificates", "/etc/ca-certificates"),
  dir("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates"),
  dir("usr-share-ca-certificates", "/usr/share/ca-certificates"),
];
const PKI = "/etc/kubernetes/pki";

export function etcdManifest(s: ClusterSpec): string {
  const { name, address } = s.primary;
  const n = minor(s.version);
  // The pre-1.x layout kubeha must refuse: etcd reachable on loopback only.
  const peerUrl = s.etcdPeerLocalhost ? "https://localhost:2380" : `https://${address}:2380`;
  const clientUrl = s.etcdPeerLocalhost ? "https://127.0.0.1:2379" : `https://${address}:2379`;
  const listenClient = s.etcdPeerLocalhost
    ? "https://127.0.0.1:2379"
    : `https://127.0.0.1:2379,https://${address}:2379`;
  const listenPeer = s.etcdPeerLocalhost ? "https://127.0.0.1:2380" : `https://${address}:2380`;
  const command = [
    "etcd",
    `--advertise-client-urls=${clientUrl}`,
    `--cert-file=${PKI}/etcd/server.crt`,
    "--client-cert-auth=true",
    "--data-dir=/var/lib/etcd",
    "--experimental-initial-corrupt-check=true",
    ...(n >= 31 ? ["--experimental-watch-progress-notify-interval=5s"] : []),
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    `--key-file=${PKI}/etcd/server.key`,
    `--listen-client-urls=${listenClient}`,
    "--listen-metrics-urls=http://127.0.0.1:2381",
    `--listen-peer-urls=${listenPeer}`,
    `--name=${name}`,
    `--peer-cert-file=${PKI}/etcd/peer.crt`,
    "--peer-client-cert-auth=true",
    `--peer-key-file=${PKI}/etcd/peer.key`,
    `--peer-trusted-ca-file=${PKI}/etcd/ca.crt`,
    "--snapshot-count=10000",
    `--trusted-ca-file=${PKI}/etcd/ca.crt`,
  ];
  const modern = n >= 31;
  return pod({
    name: "etcd",
    priority: minor(s.version) >= 25,
    // The old layout predates kubeadm's advertise-client-urls annotation.
    annotation: s.etcdPeerLocalhost
      ? undefined
      : `kubeadm.kubernetes.io/etcd.advertise-client-urls: ${clientUrl}`,
    command,
    image: etcdImage(s.version),
    liveness: probe("livenessProbe", "127.0.0.1", modern ? "/livez" : "/health", 2381, "HTTP"),
    readiness: modern ? probe("readinessProbe", "127.0.0.1", "/readyz", 2381, "HTTP") : undefined,
    startup: probe("startupProbe", "127.0.0.1", modern ? "/readyz" : "/health", 2381, "HTTP"),
    cpu: "100m",
    memory: "100Mi",
    volumes: [dir("etcd-data", "/var/lib/etcd", false), dir("etcd-certs", `${PKI}/etcd`, false)],
  });
}

export function apiserverManifest(s: ClusterSpec): string {
  const ip = s.primary.address;
  const command = [
    "kube-apiserver",
    `--advertise-address=${ip}`,
    "--allow-privileged=true",
    "--authorization-mode=Node,RBAC",
    `--client-ca-file=${PKI}/ca.crt`,
    "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true",
    `--etcd-cafile=${PKI}/etcd/ca.crt`,
    `--etcd-certfile=${PKI}/apiserver-etcd-client.crt`,
    `--etcd-keyfile=${PKI}/apiserver-etcd-client.key`,
    "--etcd-servers=https://127.0.0.1:2379",
    `--kubelet-client-certificate=${PKI}/apiserver-kubelet-client.crt`,
    `--kubelet-client-key=${PKI}/apiserver-kubelet-client.key`,
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    `--proxy-client-cert-file=${PKI}/front-proxy-client.crt`,
    `--proxy-client-key-file=${PKI}/front-proxy-client.key`,
    "--requestheader-allowed-names=front-proxy-client",
    `--requestheader-client-ca-file=${PKI}/front-proxy-ca.crt`,
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-username-headers=X-Remote-User",
    "--secure-port=6443",
    `--service-account-issuer=https://kubernetes.default.svc.${s.domain}`,
    `--service-account-key-file=${PKI}/sa.pub`,
    `--service-account-signing-key-file=${PKI}/sa.key`,
    `--service-cluster-ip-range=${s.serviceCidr}`,
    `--tls-cert-file=${PKI}/apiserver.crt`,
    `--tls-private-key-file=${PKI}/apiserver.key`,
  ];
  return pod({
    name: "kube-apiserver",
    priority: minor(s.version) >= 25,
    annotation: `kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: ${ip}:6443`,
    command,
    image: `registry.k8s.io/kube-apiserver:v${s.version}`,
    liveness: probe("livenessProbe", ip, "/livez", 6443, "HTTPS"),
    readiness: probe("readinessProbe", ip, "/readyz", 6443, "HTTPS"),
    startup: probe("startupProbe", ip, "/livez", 6443, "HTTPS"),
    cpu: "250m",
    volumes: byName([...CA_VOLUMES, dir("k8s-certs", PKI)]),
  });
}

export function controllerManagerManifest(s: ClusterSpec): string {
  const conf = "/etc/kubernetes/controller-manager.conf";
  const command = [
    "kube-controller-manager",
    "--allocate-node-cidrs=true",
    `--authentication-kubeconfig=${conf}`,
    `--authorization-kubeconfig=${conf}`,
    "--bind-address=127.0.0.1",
    `--client-ca-file=${PKI}/ca.crt`,
    `--cluster-cidr=${s.podCidr}`,
    "--cluster-name=kubernetes",
    `--cluster-signing-cert-file=${PKI}/ca.crt`,
    `--cluster-signing-key-file=${PKI}/ca.key`,
    "--controllers=*,bootstrapsigner,tokencleaner",
    `--kubeconfig=${conf}`,
    "--leader-elect=true",
    `--requestheader-client-ca-file=${PKI}/front-proxy-ca.crt`,
    `--root-ca-file=${PKI}/ca.crt`,
    `--service-account-private-key-file=${PKI}/sa.key`,
    `--service-cluster-ip-range=${s.serviceCidr}`,
    "--use-service-account-credentials=true",
  ];
  return pod({
    name: "kube-controller-manager",
    priority: minor(s.version) >= 25,
    command,
    image: `registry.k8s.io/kube-controller-manager:v${s.version}`,
    liveness: probe("livenessProbe", "127.0.0.1", "/healthz", 10257, "HTTPS"),
    startup: probe("startupProbe", "127.0.0.1", "/healthz", 10257, "HTTPS"),
    cpu: "200m",
    volumes: byName([
      ...CA_VOLUMES,
      dir("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", false),
      dir("k8s-certs", PKI),
      { name: "kubeconfig", path: conf, type: "FileOrCreate", readOnly: true },
    ]),
  });
}

export function schedulerManifest(s: ClusterSpec): string {
  const conf = "/etc/kubernetes/scheduler.conf";
  return pod({
    name: "kube-scheduler",
    priority: minor(s.version) >= 25,
    command: [
      "kube-scheduler",
      `--authentication-kubeconfig=${conf}`,
      `--authorization-kubeconfig=${conf}`,
      "--bind-address=127.0.0.1",
      `--kubeconfig=${conf}`,
      "--leader-elect=true",
    ],
    image: `registry.k8s.io/kube-scheduler:v${s.version}`,
    liveness: probe("livenessProbe", "127.0.0.1", "/healthz", 10259, "HTTPS"),
    startup: probe("startupProbe", "127.0.0.1", "/healthz", 10259, "HTTPS"),
    cpu: "100m",
    volumes: [{ name: "kubeconfig", path: conf, type: "FileOrCreate", readOnly: true }],
  });
}

/** File name -> content for /etc/kubernetes/manifests. */
export function manifests(s: ClusterSpec): Record<string, string> {
  return {
    "etcd.yaml": etcdManifest(s),
    "kube-apiserver.yaml": apiserverManifest(s),
    "kube-controller-manager.yaml": controllerManagerManifest(s),
    "kube-scheduler.yaml": schedulerManifest(s),
  };
}
