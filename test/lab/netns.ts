// The lab's network: one namespace holding a bridge, one namespace per host (and the
// workstation) joined to it by a veth pair. Nothing is connected to the root namespace.
import { must, run } from "./proc.js";

/** Every lab namespace starts with this stem; `lab:down` finds leftovers by it. */
export const STEM = "khl";

export interface Attachment {
  ns: string;
  address: string;
}

export function labNsName(prefix: string): string {
  return `${prefix}net`;
}

/**
 * A random /24 in 10.123.0.0/16: outside 10.96.0.0/12, 10.244.0.0/16, 172.24.0.0/16 and
 * 192.168.0.0/16, the ranges the fixture and the tests use for cluster networking.
 */
export function randomSubnet(): string {
  return `10.123.${Math.floor(Math.random() * 256)}`;
}

export async function createNetwork(prefix: string, members: Attachment[]): Promise<void> {
  const labNs = labNsName(prefix);
  await Promise.all([labNs, ...members.map((m) => m.ns)].map((ns) => must(["ip", "netns", "add", ns])));
  // Interface names live inside their namespace, so short fixed names cannot clash between labs.
  const bridge = ["link set lo up", "link add br0 type bridge", "link set br0 up"];
  members.forEach((m, i) => {
    bridge.push(
      `link add v${i} type veth peer name eth0 netns ${m.ns}`,
      `link set v${i} master br0`,
      `link set v${i} up`,
    );
  });
  await must(["ip", "-n", labNs, "-batch", "-"], { stdin: bridge.join("\n") + "\n" });
  await Promise.all(
    members.map((m) =>
      must(["ip", "-n", m.ns, "-batch", "-"], {
        stdin: ["link set lo up", `addr add ${m.address}/24 dev eth0`, "link set eth0 up"].join("\n") + "\n",
      }),
    ),
  );
}

export async function listNamespaces(): Promise<string[]> {
  const out = await must(["ip", "netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n !== "");
}

export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", ns]);
  return r.stdout
    .split(/\s+/)
    .filter((s) => s !== "")
    .map(Number);
}

export async function deleteNamespace(ns: string): Promise<void> {
  await run(["ip", "netns", "del", ns]);
}
