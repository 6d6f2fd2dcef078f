// An LB host whose nginx has no stream module: preflight refuses (exit 2) naming the package, and
// nothing is changed. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { REPO } from "./hosts.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

describe("load balancer without the stream module", { skip }, () => {
  let lab: Lab | undefined;
  before(async () => {
    lab = await startLab({ workers: 0, bulkKeys: 0, lbWithoutStream: true });
  });
  after(async () => {
    await lab?.stop();
  });

  test("apply fails preflight naming libnginx-mod-stream, and changes nothing", async () => {
    const l = lab!;
    const conf = (await l.exec("lb", ["cat", "/etc/nginx/nginx.conf"])).stdout;
    const r = await l.wsExec([
      "node",
      join(REPO, "dist/src/cli.js"),
      "apply",
      "--yes",
      "-i",
      l.inventoryFile,
    ]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /preflight refused/);
    assert.match(r.stderr, /lb: nginx has no stream module/);
    assert.match(r.stderr, /libnginx-mod-stream/);
    assert.equal((await l.exec("lb", ["cat", "/etc/nginx/nginx.conf"])).stdout, conf);
    assert.equal((await l.exec("master-2", ["ls", "-A", "/etc/kubernetes/manifests"])).stdout.trim(), "");
  });
});
