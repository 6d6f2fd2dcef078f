// While a plan runs the steps against recording views, the real interfaces refuse every change: a
// step that reached past its view (a host taken when the step was built) fails the plan instead of
// changing anything.
import type { KubeClient } from "../kube/client.js";
import type { Etcd } from "../etcd/ops.js";
import type { ExecOptions, ExecResult, FileWrite, Host, WriteOptions } from "../ssh/types.js";
import { DelegatingHost } from "./delegate.js";
import { commandText } from "./host.js";

function refused(what: string): Error {
  return new Error(`internal: ${what} while planning (a step reached past its recording view)`);
}

export class GuardedHost extends DelegatingHost {
  constructor(
    real: Host,
    private readonly planning: () => boolean,
  ) {
    super(real);
  }
  private check(options: ExecOptions | undefined, command: string[] | string): void {
    if (options?.changes && this.planning()) throw refused(`${this.name}: ${commandText(command)}`);
  }
  override exec(command: string[] | string, options?: ExecOptions): Promise<ExecResult> {
    this.check(options, command);
    return this.real.exec(command, options);
  }
  override run(command: string[] | string, options?: ExecOptions): Promise<string> {
    this.check(options, command);
    return this.real.run(command, options);
  }
  override writeFile(path: string, data: string | Buffer, options?: WriteOptions): Promise<void> {
    if (this.planning()) throw refused(`${this.name}: write ${path}`);
    return this.real.writeFile(path, data, options);
  }
  override writeFiles(files: FileWrite[]): Promise<void> {
    if (this.planning()) throw refused(`${this.name}: write ${files.map((f) => f.path).join(", ")}`);
    return this.real.writeFiles(files);
  }
}

export function guardedEtcd(real: Etcd, planning: () => boolean): Etcd {
  const no = (what: string) => {
    if (planning()) throw refused(`etcd ${what}`);
  };
  return {
    members: () => real.members(),
    health: (endpoints) => real.health(endpoints),
    addLearner: async (peerUrl, options) => (no("member add"), real.addLearner(peerUrl, options)),
    promote: async (id, options) => (no("member promote"), real.promote(id, options)),
    remove: async (id) => (no("member remove"), real.remove(id)),
    updatePeerUrls: async (id, urls) => (no("member update"), real.updatePeerUrls(id, urls)),
  };
}

export function guardedKube(real: KubeClient, planning: () => boolean): KubeClient {
  const k = Object.create(real) as KubeClient;
  const no = (what: string) => {
    if (planning()) throw refused(`API ${what}`);
  };
  k.update = async (path, object) => (no(`update ${path}`), real.update(path, object));
  k.create = async (path, object) => (no(`create in ${path}`), real.create(path, object));
  k.delete = async (path, pre) => (no(`delete ${path}`), real.delete(path, pre));
  k.mergePatch = async (path, patch) => (no(`patch ${path}`), real.mergePatch(path, patch));
  return k;
}
