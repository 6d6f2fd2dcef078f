// The key pool: keys generated ahead (while the backup runs) are handed out once, in order.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KeyPool } from "../../src/pki/key-pool.js";

describe("KeyPool", () => {
  const rsa = { type: "rsa", bits: 2048 } as const;
  const ec = { type: "ec", curve: "P-256" } as const;

  test("keys filled ahead are taken once each, by algorithm; an empty pool makes a new key", async () => {
    const pool = new KeyPool();
    pool.fill(rsa, 2);
    pool.fill(ec, 1);
    assert.equal(pool.size, 3);
    const [a, b] = await Promise.all([pool.take(rsa), pool.take(rsa)]);
    assert.equal(pool.size, 1);
    assert.notEqual(a.pem, b.pem);
    assert.match(a.pem, /^-----BEGIN RSA PRIVATE KEY-----/);
    const e = await pool.take(ec);
    assert.match(e.pem, /^-----BEGIN EC PRIVATE KEY-----/);
    assert.equal(pool.size, 0);
    const fresh = await pool.take(rsa);
    assert.ok(![a.pem, b.pem].includes(fresh.pem));
  });

  test("each step takes its own keys, made in the order they were asked for (one at a time here)", async () => {
    const pool = new KeyPool(1);
    pool.fill(rsa, 2, "master-2");
    pool.fill(rsa, 2, "master-3");
    const done: string[] = [];
    const take = (owner: string) => pool.take(rsa, owner).then((k) => (done.push(owner), k));
    // master-3's step asks first: it still gets only its own keys, after master-2's were made.
    const three = [take("master-3"), take("master-3")];
    const two = [take("master-2"), take("master-2")];
    const keys = await Promise.all([...three, ...two]);
    assert.deepEqual(done, ["master-2", "master-2", "master-3", "master-3"]);
    assert.equal(new Set(keys.map((k) => k.pem)).size, 4);
    assert.equal(pool.size, 0);
    // Nothing asked for this step: a new key at once.
    assert.match((await pool.take(rsa, "master-4")).pem, /^-----BEGIN RSA PRIVATE KEY-----/);
  });

  test("generation runs off the event loop: timers keep firing while keys are made", async () => {
    const pool = new KeyPool();
    pool.fill(rsa, 4);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = Date.now();
    await Promise.all([1, 2, 3, 4].map(() => pool.take(rsa)));
    clearInterval(timer);
    const elapsed = Date.now() - t0;
    // A blocked event loop would fire almost no ticks over the whole generation.
    assert.ok(ticks >= Math.floor(elapsed / 5 / 4), `${ticks} ticks in ${elapsed} ms`);
  });
});
