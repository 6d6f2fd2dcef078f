// Run inside the primary's network namespace (`node fixture-etcd.js <job.json>`): waits for
// etcd, stores kubeadm's objects and bulk data, prints {"keys":n,"bytes":n}.
import { readFileSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { bulkConfigMap, type StoredObject } from "./fixture-objects.js";

export interface EtcdJob {
  endpoint: string;
  ca: string;
  cert: string;
  key: string;
  objects: StoredObject[];
  bulk: number;
}

const BATCH = 100; // below etcd's default --max-txn-ops (128)
const PARALLEL = 8;

async function main(jobFile: string): Promise<void> {
  const job = JSON.parse(readFileSync(jobFile, "utf8")) as EtcdJob;
  const client = new Etcd3({
    hosts: job.endpoint,
    credentials: {
      rootCertificate: readFileSync(job.ca),
      certChain: readFileSync(job.cert),
      privateKey: readFileSync(job.key),
    },
  });
  try {
    await waitForEtcd(client);
    const all = [...job.objects, ...Array.from({ length: job.bulk }, (_, i) => bulkConfigMap(i))];
    const batches: StoredObject[][] = [];
    for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let b = batches[next++]; b; b = batches[next++]) {
        await client.kv.txn({
          success: b.map((o) => ({ request_put: { key: Buffer.from(o.key), value: Buffer.from(o.value) } })),
        });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const bytes = all.reduce((n, o) => n + o.key.length + o.value.length, 0);
    process.stdout.write(JSON.stringify({ keys: all.length, bytes }) + "\n");
  } finally {
    client.close();
  }
}

/** etcd is started by the kubelet stand-in from the manifest; give it time to come up. */
async function waitForEtcd(client: Etcd3): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await client.maintenance.status();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const jobFile = process.argv[2];
if (!jobFile) throw new Error("usage: fixture-etcd.js <job.json>");
await main(jobFile);
