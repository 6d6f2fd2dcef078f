/** Pure rendering: static pod manifests, the nginx stream configuration, ConfigMap and kubeconfig edits. */
export * from "./manifest.js";
export * from "./control-plane.js";
export * from "./nginx.js";
export * from "./kubeadm-config.js";
export { unifiedDiff } from "./diff.js";
export { hostPort, isIPv6, makeURL, sameHost } from "./net.js";
