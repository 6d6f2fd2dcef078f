// The nginx check before the first change (src/phases/nginx-check.ts): the script it runs on a copy,
// and how its answer is read. The script itself runs against a real nginx in test/lab/lb-merge.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkNginxCopy, copyCheckScript } from "../../src/phases/nginx-check.js";
import { ExitCode, KubehaError } from "../../src/errors.js";
import { FakeHost } from "../helpers/fakes.js";

const ours = { path: "/etc/nginx/stream.d/kubeha-apiservers.conf", content: "stream {}\n" };

describe("the nginx check on a copy", () => {
  test("the script copies /etc/nginx, writes into the copy only, tests it and removes it", () => {
    const s = copyCheckScript([ours])!;
    assert.match(s, /mktemp -d \/tmp\/kubeha-nginx-check\.XXXXXX/);
    assert.match(s, /trap 'rm -rf "\$d"' EXIT/);
    assert.match(s, /cp -a \/etc\/nginx "\$d\/nginx"/);
    // Links are pointed into the copy before anything is written, so no write goes through one.
    assert.ok(s.indexOf("readlink") < s.indexOf("base64 -d"), s);
    assert.match(
      s,
      /rm -f "\$d\/nginx\/stream\.d\/kubeha-apiservers\.conf" && printf '%s' '[A-Za-z0-9+/=]+' \| base64 -d > "\$d\/nginx\/stream\.d\/kubeha-apiservers\.conf"/,
    );
    assert.match(s, /nginx -t -c "\$d\/nginx\/nginx\.conf"/);
    assert.doesNotMatch(s, /> \/etc\/nginx/);
  });

  test("a file outside /etc/nginx: no copy to test (the step tests in place, as before)", () => {
    assert.equal(copyCheckScript([{ path: "/srv/nginx/stream.conf", content: "" }]), undefined);
    assert.equal(copyCheckScript([{ path: "/etc/nginx/../x.conf", content: "" }]), undefined);
  });

  test("nginx rejecting the copy refuses the run: exit 2, the host and nginx's words", async () => {
    const emerg =
      '2026/12/05 05:53:45 [emerg] 1#1: duplicate upstream "x" in /etc/nginx/stream.d/kubeha-apiservers.conf:1\n' +
      "nginx: configuration file /etc/nginx/nginx.conf test failed\n";
    const lb = new FakeHost("lb", "10.0.0.20", () => ({ code: 1, stdout: emerg }));
    await assert.rejects(
      checkNginxCopy(lb, [ours]),
      (err: unknown) =>
        err instanceof KubehaError &&
        err.exitCode === ExitCode.badInput &&
        /^lb: nginx -t rejects the configuration kubeha would install \(.*duplicate upstream "x".*\); nothing was changed$/.test(
          err.message,
        ),
    );
    assert.deepEqual(lb.changes, []);
  });

  test("a copy that could not be made is a failure, not a refusal of the configuration", async () => {
    const lb = new FakeHost("lb", "10.0.0.20", () => ({
      code: 1,
      stdout: "cp: cannot create directory: No space left on device\n",
    }));
    await assert.rejects(
      checkNginxCopy(lb, [ours]),
      (err: unknown) =>
        err instanceof KubehaError &&
        err.exitCode !== ExitCode.badInput &&
        /^lb: could not test the new nginx configuration on a copy: cp: cannot create/.test(err.message),
    );
  });

  test("nginx accepting it: nothing to say", async () => {
    const lb = new FakeHost("lb", "10.0.0.20", () => ({
      code: 0,
      stdout: "nginx: configuration file /etc/nginx/nginx.conf test is successful\n",
    }));
    await checkNginxCopy(lb, [ours]);
  });
});
