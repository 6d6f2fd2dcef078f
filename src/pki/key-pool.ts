/**
 * Keys generated ahead of use. Generating RSA keys is the one CPU-heavy part of a conversion: the
 * new masters' keys are started while the backup streams, so that each certificate step only signs.
 * A key is handed out once, kept in memory only, and a step that finds none waiting makes its own.
 */
import { availableParallelism } from "node:os";
import { limiter } from "../ssh/limit.js";
import { generateKey, type GeneratedKey, type KeyAlgorithm } from "./issue.js";

const nameOf = (alg: KeyAlgorithm) => (alg.type === "rsa" ? `rsa-${alg.bits}` : `ec-${alg.curve}`);

export class KeyPool {
  private readonly waiting = new Map<string, Promise<GeneratedKey>[]>();
  // One key per core at a time: libuv's thread pool (4 threads) stays free for the backup's file writes.
  private readonly gate = limiter(availableParallelism());

  /** Starts generating `count` keys of `alg` (node:crypto: in libuv's thread pool, off the event loop). */
  fill(alg: KeyAlgorithm, count: number): void {
    const list = this.waiting.get(nameOf(alg)) ?? [];
    for (let i = 0; i < count; i++) {
      const key = this.gate(() => generateKey(alg));
      // A failure surfaces where the key is taken; an untaken one must not end the process.
      key.catch(() => {});
      list.push(key);
    }
    this.waiting.set(nameOf(alg), list);
  }

  /** A key of `alg`: the oldest one waiting, else a new one (also when a waiting one failed). */
  take(alg: KeyAlgorithm): Promise<GeneratedKey> {
    const key = this.waiting.get(nameOf(alg))?.shift();
    return key ? key.catch(() => generateKey(alg)) : generateKey(alg);
  }

  /** Keys generated or under way that nobody took yet. */
  get size(): number {
    return [...this.waiting.values()].reduce((n, l) => n + l.length, 0);
  }
}
