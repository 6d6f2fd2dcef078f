/**
 * Keys generated ahead of use. Generating RSA keys is the one CPU-heavy part of a conversion: the
 * new masters' keys are started while the backup streams, so that each certificate step only signs.
 * A key is handed out once, kept in memory only, and a step that finds none waiting makes its own.
 */
import { availableParallelism } from "node:os";
import { limiter } from "../ssh/limit.js";
import { generateKey, type GeneratedKey, type KeyAlgorithm } from "./issue.js";

const nameOf = (alg: KeyAlgorithm) => (alg.type === "rsa" ? `rsa-${alg.bits}` : `ec-${alg.curve}`);

/** A key to come: started by the pool in its turn, or at once by whoever takes it first. */
interface Pending {
  key?: Promise<GeneratedKey>;
}

export class KeyPool {
  private readonly waiting = new Map<string, Pending[]>();
  // One key per core at a time while nobody waits for them: libuv's 4 threads stay free for the
  // backup's file writes.
  private readonly gate = limiter(availableParallelism());

  /** Starts generating `count` keys of `alg` (node:crypto: in libuv's thread pool, off the event loop). */
  fill(alg: KeyAlgorithm, count: number): void {
    const list = this.waiting.get(nameOf(alg)) ?? [];
    for (let i = 0; i < count; i++) {
      const p: Pending = {};
      list.push(p);
      void this.gate(async () => {
        if (p.key) return; // already taken and started by its taker
        p.key = start(alg);
        await p.key.catch(() => {});
      });
    }
    this.waiting.set(nameOf(alg), list);
  }

  /**
   * A key of `alg`: the oldest one waiting (started now if its turn has not come: the step needs it
   * now), else a new one; also a new one when a waiting one failed.
   */
  take(alg: KeyAlgorithm): Promise<GeneratedKey> {
    const p = this.waiting.get(nameOf(alg))?.shift();
    if (!p) return generateKey(alg);
    p.key ??= start(alg);
    return p.key.catch(() => generateKey(alg));
  }

  /** Keys generated or to come that nobody took yet. */
  get size(): number {
    return [...this.waiting.values()].reduce((n, l) => n + l.length, 0);
  }
}

function start(alg: KeyAlgorithm): Promise<GeneratedKey> {
  const key = generateKey(alg);
  // A failure surfaces where the key is taken; one never taken must not end the process.
  key.catch(() => {});
  return key;
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
