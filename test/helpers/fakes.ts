// Stand-ins for a step's interfaces, without root or a cluster: a Host with files in memory and
// scripted command answers, an etcd membership, an API server holding objects; and a RunContext
// made of them.
import { initialCluster, type EtcdMember } from "../../src/etcd/members.js";
import type { Etcd } from "../../src/etcd/ops.js";
import { KubeApiError, KubeClient, type KubeObject } from "../../src/kube/client.js";
import { RunContext } from "../../src/engine/context.js";
import { parseInventory } from "../../src/inventory/index.js";
import type { Inventory } from "../../src/inventory/types.js";
import type { ClusterFacts, DiscoveryResult } from "../../src/discover/types.js";
import type { Reporter } from "../../src/ui/reporter.js";
import { commandText } from "../../src/effects/host.js";
import type { ExecOptions, ExecResult, FileWrite, Host, WriteOptions } from "../../src/ssh/types.js";

export type Answer = (command: string, host: FakeHost) => Partial<ExecResult> | undefined;

export class FakeHost implements Host {
  readonly files = new Map<string, string>();
  /** Everything that changed this host, in order: "write <path>" and each changing command. */
  readonly changes: string[] = [];
  constructor(
    readonly name: string,
    readonly address: string,
    private readonly answer: Answer = () => undefined,
  ) {}
  async exec(command: string[] | string, options?: ExecOptions): Promise<ExecResult> {
    const text = commandText(command);
    if (options?.changes) this.changes.push(text);
    return { code: 0, stdout: "", stderr: "", ...this.answer(text, this) };
  }
  async run(command: string[] | string, options?: ExecOptions): Promise<string> {
    const r = await this.exec(command, options);
    if (r.code !== 0) throw new Error(`${this.name}: ${commandText(command)}: exit ${r.code}`);
    return r.stdout;
  }
  async readFile(path: string): Promise<Buffer | undefined> {
    const t = this.files.get(path);
    return t === undefined ? undefined : Buffer.from(t);
  }
  async readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    return new Map(await Promise.all(paths.map(async (p) => [p, await this.readFile(p)] as const)));
  }
  async writeFile(path: string, data: string | Buffer, options?: WriteOptions): Promise<void> {
    void options;
    this.changes.push(`write ${path}`);
    this.files.set(path, data.toString());
  }
  async writeFiles(files: FileWrite[]): Promise<void> {
    for (const f of files) await this.writeFile(f.path, f.data, f.options);
  }
  async forward(remotePort: number) {
    return { localPort: remotePort, close: async () => {} };
  }
}

/**
 * etcd as it answers membership calls: IDs chosen at the add, names taken at the first start (here:
 * at the promotion), members listed in the order of their IDs.
 */
export class FakeEtcd implements Etcd {
  readonly calls: string[] = [];
  private readonly names = new Map<string, string>();
  constructor(public list: EtcdMember[]) {}
  private sorted(): EtcdMember[] {
    return structuredClone(this.list).sort((a, b) => (BigInt(`0x${a.id}`) < BigInt(`0x${b.id}`) ? -1 : 1));
  }
  async members() {
    return this.sorted();
  }
  async addLearner(peerUrl: string, options: { name: string }) {
    this.calls.push(`add ${peerUrl}`);
    const member: EtcdMember = {
      id: (0x8e9e05c52164694dn + BigInt(this.list.length)).toString(16),
      name: "",
      peerUrls: [peerUrl],
      clientUrls: [],
      isLearner: true,
      started: false,
    };
    this.list.push(member);
    this.names.set(member.id, options.name);
    const members = this.sorted();
    return {
      member,
      members,
      initialCluster: initialCluster(members, options.name, peerUrl),
      existed: false,
    };
  }
  async promote(id: string) {
    this.calls.push(`promote ${id}`);
    const m = this.list.find((x) => x.id === id)!;
    Object.assign(m, { isLearner: false, started: true, name: this.names.get(id) });
    return { member: m, promotedNow: true, attempts: 1, promotedAfterMs: 1, inSyncAfterMs: 1 };
  }
  async remove(id: string) {
    this.calls.push(`remove ${id}`);
    this.list = this.list.filter((m) => m.id !== id);
    return true;
  }
  async updatePeerUrls(id: string, urls: string[]) {
    this.calls.push(`update ${id} ${urls.join(",")}`);
    return true;
  }
  async health() {
    return { healthy: true, problems: [] };
  }
}

/** An API server holding objects by path; every update needs the current resourceVersion. */
export class FakeKube extends KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly updates: string[] = [];
  constructor() {
    super({
      connectHost: "127.0.0.1",
      connectPort: 1,
      serverName: "x",
      ca: "",
      cert: "",
      key: "",
      label: "fake",
    });
  }
  override async get<T = KubeObject>(path: string): Promise<T> {
    const o = this.objects.get(path);
    if (!o) throw new KubeApiError(`fake: GET ${path}: 404`, 404);
    return structuredClone(o) as T;
  }
  override async update<T extends KubeObject>(path: string, object: T): Promise<T> {
    const cur = this.objects.get(path);
    if (cur?.metadata.resourceVersion !== object.metadata.resourceVersion)
      throw new KubeApiError(`fake: PUT ${path}: 409`, 409);
    this.updates.push(path);
    const next = structuredClone(object);
    next.metadata.resourceVersion = String(Number(object.metadata.resourceVersion ?? "0") + 1);
    this.objects.set(path, next);
    return structuredClone(next);
  }
}

export const INVENTORY = `
ssh: { identityFile: /id }
primary: { name: master-1, address: 10.0.0.11 }
masters:
  - { name: master-2, address: 10.0.0.12 }
  - { name: master-3, address: 10.0.0.13 }
loadBalancer: { name: lb, address: 10.0.0.20 }
`;

export function inventory(text = INVENTORY): Inventory {
  const r = parseInventory(text, "/inv.yaml", { fileState: () => "ok", homeDir: "/root" });
  if (!("inventory" in r)) throw new Error(JSON.stringify(r.errors));
  return r.inventory;
}

const silent = new Proxy({}, { get: () => () => {} }) as Reporter;

/** A context over stand-ins; `cluster` holds only the facts the steps under test read. */
export function fakeContext(parts: {
  hosts: FakeHost[];
  cluster: Partial<ClusterFacts>;
  etcd?: Etcd;
  kube?: KubeClient;
  inventory?: Inventory;
}): RunContext {
  const tls = { ca: Buffer.from(""), cert: Buffer.from(""), key: Buffer.from("") };
  return RunContext.assemble({
    inventory: parts.inventory ?? inventory(),
    discovery: {
      cluster: { securePort: 6443, ...parts.cluster },
      hosts: [],
      identities: [],
      findings: [],
    } as unknown as DiscoveryResult,
    hosts: new Map(parts.hosts.map((h) => [h.name, h])),
    reporter: silent,
    access: {
      etcdTls: tls,
      etcdEndpoint: async (h: Host) => `https://127.0.0.1:2379/${h.name}`,
      kube: async () => {
        if (!parts.kube) throw new Error("no API in this test");
        return parts.kube;
      },
      close: async () => {},
    },
    ...(parts.etcd && { etcd: parts.etcd }),
  });
}
