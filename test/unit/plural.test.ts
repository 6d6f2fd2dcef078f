// Counts in messages read as English: "1 step carried out", "2 steps", "0 steps".
import { test } from "node:test";
import assert from "node:assert/strict";
import { plural } from "../../src/ui/plural.js";

test("plural: singular for exactly one, plural otherwise, irregular plurals given", () => {
  assert.equal(plural(1, "step"), "1 step");
  assert.equal(plural(0, "step"), "0 steps");
  assert.equal(plural(2, "blocking finding"), "2 blocking findings");
  assert.equal(plural(1, "voting member"), "1 voting member");
  assert.equal(plural(3, "entry", "entries"), "3 entries");
  assert.equal(plural(1, "entry", "entries"), "1 entry");
});
