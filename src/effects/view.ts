// The interfaces one step's run sees when its effects are recorded: each host, API client and the
// etcd membership wrapped once per step, over overlays shared by every step of one plan (so a step
// reads what the plan's earlier steps would have written).
import type { KubeClient, KubeObject } from "../kube/client.js";
import type { Etcd } from "../etcd/ops.js";
import type { Host } from "../ssh/types.js";
import { RecordingHost, type FileOverlay } from "./host.js";
import { recordingKube, type ObjectOverlay } from "./kube.js";
import { recordingEtcd, type EtcdOverlay } from "./etcd.js";
import type { EffectSink } from "./types.js";

/** What one plan's (or one apply's) recorded changes have made of the world so far. */
export class World {
  readonly files = new Map<string, FileOverlay>();
  readonly objects: ObjectOverlay = new Map();
  readonly etcd: EtcdOverlay = { names: new Map() };
}

export class EffectView {
  private readonly hosts = new Map<string, Host>();
  private readonly kubes = new Map<string, Promise<KubeClient>>();
  private etcdView?: Etcd;

  constructor(
    readonly sink: EffectSink,
    private readonly world: World,
    private readonly predict: (path: string) => KubeObject | undefined,
  ) {}

  host(real: Host): Host {
    let h = this.hosts.get(real.name);
    if (!h) {
      let files = this.world.files.get(real.name);
      if (!files) this.world.files.set(real.name, (files = new Map()));
      h = new RecordingHost(real, this.sink, files);
      this.hosts.set(real.name, h);
    }
    return h;
  }

  kube(name: string, real: Promise<KubeClient>): Promise<KubeClient> {
    let k = this.kubes.get(name);
    if (!k) {
      k = real.then((c) => recordingKube(c, this.sink, this.world.objects, this.predict));
      this.kubes.set(name, k);
    }
    return k;
  }

  etcd(real: Etcd): Etcd {
    return (this.etcdView ??= recordingEtcd(real, this.sink, this.world.etcd));
  }

  wait(condition: string, host?: string): void {
    this.sink.record({ kind: "wait", ...(host && { host }), condition });
  }
}
