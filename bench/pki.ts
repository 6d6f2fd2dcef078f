/**
 * Rendering one master's full PKI (7 leaf pairs + 5 kubeconfigs, Kubernetes 1.29+) with kubeha
 * versus the openssl CLI the way a shell script does it (genrsa, req, x509 per certificate, each
 * certificate's chain in the background with `&`, then `wait`, then the kubeconfigs with base64).
 * Both sides write their files to a fresh directory; the CAs are made once, by openssl.
 *
 * Then the certificate encoder alone: kubeha's hand-made DER (src/pki/der.ts) against the
 * @peculiar/x509 variant in bench/pki-x509.ts (see docs/PKI-ENCODER.md), on the same keys.
 *
 *   node dist/bench/pki.js [iterations]        (default 9; BENCH_KIND=ec for P-256 CAs)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { sign as cryptoSign, createPrivateKey, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import forge from "node-forge";
import { generateKey, signCertificate, type CertRequest, type LoadedCa } from "../src/pki/issue.js";
import { loadCas, planNodePki, renderNodePki, type NodePkiInput } from "../src/pki/render.js";
import type { CaName } from "../src/pki/specs.js";
import { CA_FILES } from "../src/pki/specs.js";

const iterations = Number(process.argv[2] ?? 9);
const kind = process.env.BENCH_KIND === "ec" ? "ec" : "rsa";
const root = mkdtempSync(join(tmpdir(), "kubeha-bench-pki-"));

function makeCa(cn: string): { certPem: string; keyPem: string; certFile: string; keyFile: string } {
  const certFile = join(root, "cas", `${cn}.crt`);
  const keyFile = join(root, "cas", `${cn}.key`);
  mkdirSync(dirname(certFile), { recursive: true });
  const keyArgs =
    kind === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      ...keyArgs,
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-subj",
      `/CN=${cn}`,
      "-days",
      "3650",
    ],
    {
      stdio: "ignore",
    },
  );
  return {
    certPem: readFileSync(certFile, "utf8"),
    keyPem: readFileSync(keyFile, "utf8"),
    certFile,
    keyFile,
  };
}

const cas = {
  ca: makeCa("kubernetes"),
  "front-proxy-ca": makeCa("front-proxy-ca"),
  "etcd-ca": makeCa("etcd-ca"),
} as Record<CaName, ReturnType<typeof makeCa>>;

const input: NodePkiInput = {
  node: { name: "master-2", address: "10.0.0.12" },
  cluster: { kubernetesVersion: "v1.30.4", serviceCidr: "10.96.0.0/12", clusterDomain: "cluster.local" },
  loadBalancer: { address: "10.0.0.20", dnsName: "api.example.com", port: 6443 },
  cas,
};

/** The same certificates as a shell script: the plan kubeha would execute, done with openssl. */
function opensslScript(out: string): string {
  const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  const genKey =
    kind === "rsa"
      ? 'openssl genrsa -out "$k" 2048'
      : 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k"';
  const lines = ["set -e", `cd ${q(out)}`, "mkdir -p pki/etcd kc"];
  const kubeconfigs: string[] = [];
  for (const item of planNodePki(input)) {
    const base = item.output.kind === "pair" ? `pki/${item.output.baseName}` : `kc/${item.output.file}`;
    const subj = [...item.organizations.map((o) => `/O=${o}`), `/CN=${item.commonName}`].join("");
    const ext = [
      "[v3]",
      "basicConstraints=critical,CA:FALSE",
      `keyUsage=critical,digitalSignature${kind === "rsa" ? ",keyEncipherment" : ""}`,
      `extendedKeyUsage=${item.extKeyUsages.join(",")}`,
      "subjectKeyIdentifier=hash",
      "authorityKeyIdentifier=keyid",
      ...(item.sans.dns.length + item.sans.ips.length > 0
        ? [
            `subjectAltName=${[...item.sans.dns.map((d) => `DNS:${d}`), ...item.sans.ips.map((i) => `IP:${i}`)].join(",")}`,
          ]
        : []),
    ].join("\n");
    const ca = cas[item.ca];
    const serial = `0x${[...crypto.getRandomValues(new Uint8Array(16))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("")
      .replace(/^./, "4")}`;
    lines.push(
      `( k=${q(base + ".key")}; printf '%s\\n' ${q(ext)} > ${q(base + ".ext")}`,
      `  ${genKey} 2>/dev/null`,
      `  openssl req -new -key "$k" -subj ${q(subj)} -out ${q(base + ".csr")}`,
      `  openssl x509 -req -in ${q(base + ".csr")} -CA ${q(ca.certFile)} -CAkey ${q(ca.keyFile)} -set_serial ${serial} -days 365 -sha256 -extfile ${q(base + ".ext")} -extensions v3 -out ${q(base + ".crt")} 2>/dev/null`,
      `  chmod 600 "$k" ) &`,
    );
    if (item.output.kind === "kubeconfig") {
      const user = item.commonName;
      kubeconfigs.push(
        `cat > ${q(item.output.file)} <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 ${q(cas.ca.certFile)})
    server: ${item.output.server}
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: ${user}
  name: ${user}@kubernetes
current-context: ${user}@kubernetes
kind: Config
preferences: {}
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 ${q(base + ".crt")})
    client-key-data: $(base64 -w0 ${q(base + ".key")})
EOF
chmod 600 ${q(item.output.file)}`,
      );
    }
  }
  return [...lines, "wait", ...kubeconfigs, ""].join("\n");
}

async function runKubeha(out: string): Promise<number> {
  const t0 = performance.now();
  const files = await renderNodePki(input);
  for (const [rel, f] of files) {
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    writeFileSync(join(out, rel), f.content, { mode: f.mode });
  }
  return performance.now() - t0;
}

function runOpenssl(out: string): number {
  mkdirSync(out, { recursive: true });
  const script = opensslScript(out);
  const t0 = performance.now();
  const r = spawnSync("sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`openssl script failed: ${r.stderr.toString()}`);
  return ms;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number): string => `${ms.toFixed(0).padStart(5)} ms`;

/** Signing alone: node-forge's pure-JS RSA against node:crypto (OpenSSL), on the same bytes. */
function signingMicro(): { forge: number; node: number } | undefined {
  if (kind !== "rsa") return undefined;
  const tbs = Buffer.alloc(900, 7);
  const forgeKey = forge.pki.privateKeyFromPem(cas.ca.keyPem);
  const nodeKey = createPrivateKey(cas.ca.keyPem);
  const n = 30;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const md = forge.md.sha256.create();
    md.update(tbs.toString("binary"));
    forgeKey.sign(md);
  }
  const forgeMs = (performance.now() - t0) / n;
  t0 = performance.now();
  for (let i = 0; i < n; i++) cryptoSign("sha256", tbs, nodeKey);
  return { forge: forgeMs, node: (performance.now() - t0) / n };
}

async function main(): Promise<void> {
  const cpuModel = cpus()[0]?.model ?? "unknown CPU";
  const items = planNodePki(input).length;
  console.log(
    `kubeha PKI benchmark: one master's full set (${items} keys and certificates, ${Object.keys(CA_FILES).length} ${kind.toUpperCase()} CAs)`,
  );
  console.log(
    `${availableParallelism()} cores (${cpuModel}), node ${process.version}, ${execFileSync("openssl", ["version"]).toString().trim()}, ${iterations} iterations\n`,
  );

  // Warm-up (module loading, JIT, page cache), not counted.
  await runKubeha(join(root, "warm-k"));
  runOpenssl(join(root, "warm-o"));

  const k: number[] = [];
  const o: number[] = [];
  for (let i = 0; i < iterations; i++) {
    // Rotate which side goes first, so none always runs on a warmer machine.
    const runs = [
      async () => k.push(await runKubeha(join(root, `k${i}`))),
      async () => o.push(runOpenssl(join(root, `o${i}`))),
    ];
    for (let j = 0; j < runs.length; j++) await runs[(i + j) % runs.length]!();
  }
  const row = (label: string, xs: number[]): string =>
    `${label.padEnd(34)}${fmt(median(xs))} ${fmt(Math.min(...xs))} ${fmt(Math.max(...xs))}`;
  console.log(`${"".padEnd(34)} median     min     max`);
  console.log(row("kubeha", k));
  console.log(row("openssl CLI (sh, parallel with &)", o));
  console.log(
    `\nopenssl CLI / kubeha = ${(median(o) / median(k)).toFixed(2)}x  (kubeha is ${median(k) < median(o) ? "faster" : "slower"})`,
  );
  console.log(`target < 1000 ms per full set: ${median(k) < 1000 ? "met" : "NOT met"}`);

  const micro = signingMicro();
  if (micro) {
    console.log(
      `\none RSA-2048 signature: node-forge ${micro.forge.toFixed(2)} ms, node:crypto ${micro.node.toFixed(2)} ms (${(micro.forge / micro.node).toFixed(0)}x)`,
    );
  }
  await encoderComparison();
  rmSync(root, { recursive: true, force: true });
}

type Signer = (ca: LoadedCa, publicKey: KeyObject, req: CertRequest) => string | Promise<string>;

/** @peculiar/x509 needs a Reflect metadata polyfill (tsyringe), a dev dependency like itself. */
async function x509Signer(): Promise<Signer> {
  await import("reflect-metadata");
  return (await import("./pki-x509.js")).signCertificateX509;
}

/** One master's keys and certificates (the part of renderNodePki that differs): keys in parallel, then each signed. */
async function certificates(sign: Signer): Promise<number> {
  const t0 = performance.now();
  const plan = planNodePki(input);
  const loaded = loadCas(input.cas);
  const keys = await Promise.all(plan.map((item) => generateKey(loaded[item.ca].keyAlgorithm)));
  for (const [i, item] of plan.entries()) {
    await sign(loaded[item.ca], keys[i]!.publicKey, {
      commonName: item.commonName,
      organizations: item.organizations,
      extKeyUsages: item.extKeyUsages,
      dns: item.sans.dns,
      ips: item.sans.ips,
    });
  }
  return performance.now() - t0;
}

/** Hand-made DER against @peculiar/x509: the full set of keys and certificates, and one certificate alone. */
async function encoderComparison(): Promise<void> {
  const x509 = await x509Signer();
  const hand: Signer = signCertificate;
  await certificates(hand);
  await certificates(x509);
  const full: Record<"hand" | "x509", number[]> = { hand: [], x509: [] };
  for (let i = 0; i < iterations; i++) {
    const order = i % 2 ? (["x509", "hand"] as const) : (["hand", "x509"] as const);
    for (const which of order) full[which].push(await certificates(which === "hand" ? hand : x509));
  }
  // One certificate: assembly and signature only, on one key, many times.
  const ca = loadCas(input.cas).ca;
  const key = await generateKey(ca.keyAlgorithm);
  const [item] = planNodePki(input);
  const req: CertRequest = {
    commonName: item!.commonName,
    organizations: item!.organizations,
    extKeyUsages: item!.extKeyUsages,
    dns: item!.sans.dns,
    ips: item!.sans.ips,
  };
  const n = 200;
  const single: Record<"hand" | "x509", number[]> = { hand: [], x509: [] };
  for (let round = 0; round < 5; round++) {
    for (const [which, sign] of [
      ["hand", hand],
      ["x509", x509],
    ] as const) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await sign(ca, key.publicKey, req);
      single[which].push((performance.now() - t0) / n);
    }
  }
  // @peculiar/x509's time against the hand-made encoder's, as a signed percentage.
  const ratio = (xs: number[], ys: number[]): string => {
    const pct = Math.round((median(ys) / median(xs) - 1) * 100);
    return `${pct >= 0 ? "+" : ""}${pct}%`;
  };
  console.log(`\nencoder: hand-made DER (src/pki/der.ts) vs @peculiar/x509 + WebCrypto (bench/pki-x509.ts)`);
  console.log(`${"".padEnd(34)} median     min     max`);
  console.log(
    `${"keys + certificates, hand-made".padEnd(34)}${fmt(median(full.hand))} ${fmt(Math.min(...full.hand))} ${fmt(Math.max(...full.hand))}`,
  );
  console.log(
    `${"keys + certificates, @peculiar".padEnd(34)}${fmt(median(full.x509))} ${fmt(Math.min(...full.x509))} ${fmt(Math.max(...full.x509))}`,
  );
  console.log(`@peculiar/x509 against hand-made on the full set: ${ratio(full.hand, full.x509)}`);
  console.log(
    `one certificate (assembly + ${kind.toUpperCase()} signature): hand-made ${median(single.hand).toFixed(3)} ms, @peculiar/x509 ${median(single.x509).toFixed(3)} ms (${ratio(single.hand, single.x509)})`,
  );
}

await main();
