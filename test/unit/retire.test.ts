import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryHost, ResolvedSsh } from "../../src/inventory/types.js";
import { checkRequest } from "../../src/plan/retire.js";

const host = (name: string, role: InventoryHost["role"] = "master"): InventoryHost => ({
  name,
  address: `10.0.0.${name.slice(-1)}`,
  role,
  ssh: {} as ResolvedSsh,
});
const masters = [host("master-1", "primary"), host("master-3"), host("master-4")];

describe("remove/replace requests against the inventory (pure)", () => {
  it("accepts an old master that left the inventory and a replacement that is in it", () => {
    assert.doesNotThrow(() => checkRequest(masters, { names: ["master-2"], replacement: "master-4" }));
    assert.doesNotThrow(() => checkRequest(masters, { names: ["master-2", "master-5"] }));
    // The old primary, once the inventory names another master as the primary.
    const promoted = [host("master-3", "primary"), host("master-4"), host("master-5")];
    assert.doesNotThrow(() => checkRequest(promoted, { names: ["master-1"], replacement: "master-5" }));
  });

  it("refuses, naming the field, an old master still listed, the primary, an unknown replacement", () => {
    assert.throws(
      () => checkRequest(masters, { names: ["master-3"], replacement: "master-4" }),
      /^InputError: master-3 is still in the inventory \(masters\[0\]\): take it out first, and put master-4 in its place$/,
    );
    assert.throws(
      () => checkRequest(masters, { names: ["master-1"] }),
      /^InputError: master-1 is the inventory's primary: name master-3 or master-4 as the primary and leave master-1 out of the inventory$/,
    );
    assert.throws(
      () => checkRequest(masters, { names: ["master-2"], replacement: "master-9" }),
      /--with master-9: not one of the inventory's masters/,
    );
    assert.throws(() => checkRequest(masters, { names: [] }), /name the master\(s\) to retire/);
    assert.throws(
      () => checkRequest(masters, { names: ["master-2", "master-5"], address: "10.0.0.2" }),
      /--address goes with exactly one master/,
    );
  });
});
