/**
 * Keys generated ahead of use. Generating RSA keys is the one CPU-heavy part of a conversion: the
 * new masters' keys are started while the backup streams, so that each certificate step only signs.
 * A key is handed out once, kept in memory only, and a step that finds none waiting makes its own.
 */
import { availableParallelism } from "node:os";
import { limiter } from "../ssh/limit.js";
import { generateKey, type GeneratedKey, type KeyAlgorithm } from "./issue.js";

const nameOf = (alg: KeyAlgorithm) => (alg.type === "rsa" ? `rsa-${alg.bits}` : `ec-${alg.curve}`);

/** A key to come, generated in its turn (the order it was asked for), for the step that asked. */
interface Pending {
  owner?: string;
  key: Promise<GeneratedKey>;
}

export class KeyPool {
  private readonly waiting = new Map<string, Pending[]>();
  // One key per core at a time, in the order they were asked for (the steps' order in the graph): the
  // first step's keys are done first instead of every step's keys sharing the cores, and libuv's 4
  // threads stay free for the backup's file writes.
  private readonly gate: ReturnType<typeof limiter>;

  constructor(concurrency = availableParallelism()) {
    this.gate = limiter(concurrency);
  }

  /**
   * Starts generating `count` keys of `alg` for `owner` (a step's id) in their turn (node:crypto: in
   * libuv's thread pool, off the event loop).
   */
  fill(alg: KeyAlgorithm, count: number, owner?: string): void {
    const list = this.waiting.get(nameOf(alg)) ?? [];
    for (let i = 0; i < count; i++) {
      const key = this.gate(() => generateKey(alg));
      // A failure surfaces where the key is taken; one never taken must not end the process.
      key.catch(() => {});
      list.push({ ...(owner !== undefined && { owner }), key });
    }
    this.waiting.set(nameOf(alg), list);
  }

  /**
   * A key of `alg`: the oldest one asked for by `owner` (or, without an owner, the oldest of all),
   * waited for in its turn; a new one when none was asked for or the one waiting failed. A step never
   * takes another step's key: each step's keys come in the order the steps were asked in.
   */
  take(alg: KeyAlgorithm, owner?: string): Promise<GeneratedKey> {
    const list = this.waiting.get(nameOf(alg)) ?? [];
    const at = owner === undefined ? (list.length ? 0 : -1) : list.findIndex((p) => p.owner === owner);
    if (at < 0) return generateKey(alg);
    const [p] = list.splice(at, 1);
    return p!.key.catch(() => generateKey(alg));
  }

  /** Keys generated or to come that nobody took yet. */
  get size(): number {
    return [...this.waiting.values()].reduce((n, l) => n + l.length, 0);
  }
}

/**
 * For a plan, which writes no key: one key per algorithm stands for every key it would generate, so
 * planning costs one key of each kind, not a dozen per master.
 */
export class StandInKeys extends KeyPool {
  private readonly one = new Map<string, Promise<GeneratedKey>>();

  override take(alg: KeyAlgorithm): Promise<GeneratedKey> {
    let k = this.one.get(nameOf(alg));
    if (!k) this.one.set(nameOf(alg), (k = generateKey(alg)));
    return k;
  }
}
