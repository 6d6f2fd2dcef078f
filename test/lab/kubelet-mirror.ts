/**
 * Mirror pods, as the real kubelet keeps them: each static pod appears in the API as
 * kube-system/<pod>-<node>, owned by the Node, annotated with its manifest's hash. kubeadm reads the
 * apiserver's advertise address from the kube-apiserver mirror pod (certs check-expiration, upgrade),
 * so the real flavour's stand-in keeps them; it posts them with the node's own credentials.
 */
import { parse } from "yaml";
import { kubeRequest, type KubeTarget } from "./standin-kubeconfig.js";

export interface StaticPod {
  pod: string;
  text: string;
  hash: string;
}

const MIRROR = "kubernetes.io/config.mirror";

interface PodJson {
  metadata: { name: string; annotations?: Record<string, string> } & Record<string, unknown>;
  spec: Record<string, unknown>;
}

/** Creates missing or outdated mirror pods of this node and deletes those whose manifest is gone. */
export async function syncMirrorPods(t: KubeTarget, node: string, pods: StaticPod[]): Promise<void> {
  const n = await kubeRequest(t, "GET", `/api/v1/nodes/${node}`);
  if (n.status !== 200) return; // not registered yet
  const uid = (JSON.parse(n.body) as { metadata: { uid: string } }).metadata.uid;
  const base = "/api/v1/namespaces/kube-system/pods";
  const listed = await kubeRequest(t, "GET", `${base}?fieldSelector=spec.nodeName%3D${node}`);
  if (listed.status !== 200) throw new Error(`list pods: ${listed.status} ${listed.body.slice(0, 200)}`);
  const have = new Map(
    (JSON.parse(listed.body) as { items: PodJson[] }).items
      .filter((p) => p.metadata.annotations?.[MIRROR])
      .map((p) => [p.metadata.name, p.metadata.annotations?.[MIRROR]]),
  );
  const wanted = new Map(pods.map((p) => [`${p.pod}-${node}`, p]));
  for (const [name, hash] of have)
    if (wanted.get(name)?.hash !== hash) await kubeRequest(t, "DELETE", `${base}/${name}`);
  for (const [name, p] of wanted) {
    if (have.get(name) === p.hash) continue;
    const doc = parse(p.text) as PodJson;
    doc.metadata = {
      ...doc.metadata,
      name,
      namespace: "kube-system",
      annotations: {
        ...doc.metadata.annotations,
        [MIRROR]: p.hash,
        "kubernetes.io/config.hash": p.hash,
        "kubernetes.io/config.source": "file",
      },
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node, uid, controller: true }],
    };
    doc.spec = { ...doc.spec, nodeName: node };
    const r = await kubeRequest(t, "POST", base, doc);
    if (r.status !== 201 && r.status !== 409)
      throw new Error(`mirror pod ${name}: ${r.status} ${r.body.slice(0, 300)}`);
  }
}
