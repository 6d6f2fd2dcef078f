/** A way to put one address in front of every apiserver, as the wizard offers it. */
export interface LbLayout {
  id: "nginx-host" | "nginx-master" | "keepalived" | "external";
  /** What goes into the inventory's `loadBalancer.mode`. */
  mode: "nginx" | "keepalived" | "external";
  /** One line: what it is and what it survives. */
  line: string;
}

/** The layouts, the one kubeha has always done first (the default). */
export const LB_LAYOUTS: readonly LbLayout[] = [
  {
    id: "nginx-host",
    mode: "nginx",
    line: "nginx on its own host: any master may fail, the LB host may not",
  },
  {
    id: "nginx-master",
    mode: "nginx",
    line: "nginx on a master, port 8443: no extra host; fails with that master",
  },
  {
    id: "keepalived",
    mode: "keepalived",
    line: "keepalived VIP on the masters: any one master may fail, the IP moves",
  },
  {
    id: "external",
    mode: "external",
    line: "external load balancer (yours): as reliable as it is; kubeha checks it",
  },
];

/** The mode the inventory records: absent for nginx, the default. */
export function layoutMode(layout: LbLayout): Exclude<LbLayout["mode"], "nginx"> | undefined {
  return layout.mode === "nginx" ? undefined : layout.mode;
}
