/**
 * The primary's kubelet settings (config.yaml, kubeadm-flags.env) as a new master gets them, the way
 * `kubeadm join` would have written them for that node: a `--node-ip` pinned to the primary's address
 * becomes the node's own, and a `--hostname-override` names the node itself (copied as it was, the new
 * kubelet would register as the primary's Node).
 */
export function kubeletFileFor(
  content: string,
  primary: { address: string },
  node: { name: string; address: string },
): string {
  return content
    .replace(/--node-ip(=|\s+)("?)([^\s"]+)\2/g, (_, sep: string, q: string, ips: string) => {
      // A dual-stack value is a comma-separated pair: only the primary's own address is replaced.
      const own = ips.split(",").map((ip) => (ip === primary.address ? node.address : ip));
      return `--node-ip${sep}${q}${own.join(",")}${q}`;
    })
    .replace(
      /--hostname-override(=|\s+)("?)[^\s"]+\2/g,
      (_, sep: string, q: string) => `--hostname-override${sep}${q}${node.name}${q}`,
    );
}
