import { posix } from "node:path";
import type { Host } from "../ssh/types.js";
import type { CaName } from "../pki/specs.js";
import { CA_FILES } from "../pki/specs.js";
import type { CaMaterial } from "../pki/issue.js";
import type { SharedMaterial } from "../pki/render.js";
import { readRequired, readSecret } from "../discover/primary.js";

/** Files a new master's kubelet needs that `kubeadm join` would have written, copied from the primary. */
export const KUBELET_FILES = ["/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeadm-flags.env"] as const;

/** The primary's shared secrets and the kubelet's settings, read once per run. Never printed. */
export interface PrimaryMaterial extends SharedMaterial {
  cas: Record<CaName, CaMaterial>;
  /** Present kubelet files by path. */
  kubelet: Map<string, string>;
}

export async function readPrimaryMaterial(primary: Host, certificatesDir: string): Promise<PrimaryMaterial> {
  const cas = {} as Record<CaName, CaMaterial>;
  await Promise.all(
    (Object.keys(CA_FILES) as CaName[]).map(async (name) => {
      const f = CA_FILES[name];
      cas[name] = {
        certPem: await readRequired(primary, posix.join(certificatesDir, f.cert)),
        keyPem: await readSecret(primary, posix.join(certificatesDir, f.key)),
      };
    }),
  );
  const [keyPem, pubPem] = await Promise.all([
    readSecret(primary, posix.join(certificatesDir, "sa.key")),
    readRequired(primary, posix.join(certificatesDir, "sa.pub")),
  ]);
  const kubelet = new Map<string, string>();
  for (const path of KUBELET_FILES) {
    const data = await primary.readFile(path);
    if (data) kubelet.set(path, data.toString("utf8"));
  }
  return { cas, serviceAccount: { keyPem, pubPem }, kubelet };
}
