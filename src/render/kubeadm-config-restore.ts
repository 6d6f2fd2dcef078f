/**
 * The inverse of kubeadmConfigSetEndpoint for a rollback: the fields kubeha changed in the
 * ClusterConfiguration (controlPlaneEndpoint, apiServer.certSANs) put back as the original had them,
 * removed where it had none. Every other field stays as it is now: a kubeadm upgrade made since the
 * conversion is not undone.
 */
import { isMap, parseDocument, type Document } from "yaml";
import { KubehaError } from "../errors.js";
import { unifiedDiff } from "./diff.js";
import { indentSeqOf, type TextEdit } from "./kubeadm-config.js";

const RESTORED: string[][] = [["controlPlaneEndpoint"], ["apiServer", "certSANs"]];

function parse(text: string, file: string): Document {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0 || !isMap(doc.contents)) {
    throw new KubehaError(
      `${file}: not a YAML map${doc.errors[0] ? `: ${doc.errors[0].message.split("\n")[0]}` : ""}`,
    );
  }
  return doc;
}

export function kubeadmConfigRestore(
  current: string,
  original: string,
  file = "kube-system/kubeadm-config ClusterConfiguration",
): TextEdit {
  const now = parse(current, file);
  const before = parse(original, `${file} (backup)`);
  for (const path of RESTORED) {
    const want = before.getIn(path, true);
    const have = now.getIn(path, true);
    if (JSON.stringify(before.getIn(path)) === JSON.stringify(now.getIn(path))) continue;
    if (want === undefined) {
      if (have !== undefined) now.deleteIn(path);
    } else now.setIn(path, now.createNode(before.getIn(path)));
  }
  // An apiServer map kubeha created only to hold certSANs goes again.
  const apiServer = now.get("apiServer", true);
  if (before.get("apiServer") === undefined && isMap(apiServer) && apiServer.items.length === 0)
    now.delete("apiServer");
  const text = now.toString({ indentSeq: indentSeqOf(current), lineWidth: 0 });
  const result = text === current ? current : text;
  return {
    text: result,
    changed: result !== current,
    diff: unifiedDiff(current, result, { fromFile: `a/${file}`, toFile: `b/${file}` }),
  };
}
