/**
 * kube-apiserver stand-in, started by the kubelet stand-in with the manifest's own flags:
 *   node dist/test/lab/apiserver.js --advertise-address=IP --secure-port=6443 --tls-cert-file=...
 *     --tls-private-key-file=... --client-ca-file=... --etcd-servers=https://127.0.0.1:2379
 *     --etcd-cafile=... --etcd-certfile=... --etcd-keyfile=... (other flags are accepted and ignored)
 * Serves HTTPS with the given certificate (reloaded when the file changes, as the real one does),
 * authenticates client certificates against the client CA like the real one (another CA's: 401;
 * none: anonymous, allowed only /readyz, /livez, /healthz, /version) and stores objects in etcd over TLS.
 */
import { readFileSync, statSync } from "node:fs";
import { createServer, type ServerOptions } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { connectEndpoint } from "../../src/etcd/client.js";
import { toTable, wantsTable } from "./apiserver-table.js";
import { parseFlags } from "./standin-flags.js";
import {
  ApiError,
  RESOURCES,
  Store,
  jsonPatch,
  mergePatch,
  type Obj,
  type Resource,
} from "./apiserver-store.js";

const f = parseFlags(process.argv.slice(2));
const need = (name: string): string => {
  const v = f.get(name);
  if (!v) {
    console.error(`kube-apiserver stand-in: --${name} is required`);
    process.exit(1);
  }
  return v;
};
const advertise = need("advertise-address");
const port = Number(f.get("secure-port") ?? 6443);
const bind = f.get("bind-address") ?? "0.0.0.0";
const certFile = need("tls-cert-file");
const keyFile = need("tls-private-key-file");
const clientCa = readFileSync(need("client-ca-file"));
const etcdServer = need("etcd-servers").split(",")[0]!;
const version = process.env.KUBE_VERSION ?? "1.31.2";
const etcd = connectEndpoint(
  etcdServer,
  {
    ca: readFileSync(need("etcd-cafile")),
    cert: readFileSync(need("etcd-certfile")),
    key: readFileSync(need("etcd-keyfile")),
  },
  { timeoutMs: 3000 },
);
const store = new Store(etcd);

function send(res: ServerResponse, code: number, body: unknown, type = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function status(res: ServerResponse, err: ApiError): void {
  send(res, err.code, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: err.message,
    reason: err.reason,
    code: err.code,
  });
}

async function etcdReady(): Promise<string | undefined> {
  try {
    await etcd
      .get("/registry/health-probe")
      .options({ deadline: Date.now() + 2000 })
      .exec();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The API groups served besides the core group, each at v1. */
const GROUPS = ["apps", "coordination.k8s.io", "admissionregistration.k8s.io", "apiregistration.k8s.io"];

function discovery(path: string): unknown {
  const resourceList = (groupVersion: string) => ({
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: RESOURCES.filter((r) => r.apiVersion === groupVersion).flatMap((r) => [
      {
        name: r.plural,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ["create", "delete", "get", "list", "patch", "update"],
        shortNames: r.shortNames,
      },
      ...(r.plural === "nodes"
        ? [
            {
              name: "nodes/status",
              singularName: "",
              namespaced: false,
              kind: "Node",
              verbs: ["get", "patch", "update"],
            },
          ]
        : []),
    ]),
  });
  const groups = GROUPS.map((name) => ({
    name,
    versions: [{ groupVersion: `${name}/v1`, version: "v1" }],
    preferredVersion: { groupVersion: `${name}/v1`, version: "v1" },
  }));
  const group = groups.find((g) => path === `/apis/${g.name}`);
  if (group) return { kind: "APIGroup", apiVersion: "v1", ...group };
  const version = groups.find((g) => path === `/apis/${g.name}/v1`);
  if (version) return resourceList(`${version.name}/v1`);
  switch (path) {
    case "/api":
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `${advertise}:${port}` }],
      };
    case "/apis":
      return { kind: "APIGroupList", apiVersion: "v1", groups };
    case "/api/v1":
      return resourceList("v1");
    default:
      return undefined;
  }
}

interface Route {
  resource: Resource;
  ns?: string;
  name?: string;
  sub?: string;
}

/** /api/v1/namespaces/NS/configmaps/NAME, /api/v1/nodes/NAME/status, /apis/apps/v1/daemonsets, ... */
function route(path: string): Route | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)\/(.*)$/.exec(path);
  if (!m || (m[1] && !GROUPS.includes(m[1]))) return undefined;
  const group = m[1] ? `${m[1]}/v1` : "v1";
  let parts = m[2]!.split("/").filter(Boolean);
  let ns: string | undefined;
  if (parts[0] === "namespaces" && parts.length >= 3) {
    ns = parts[1];
    parts = parts.slice(2);
  }
  const resource = RESOURCES.find((r) => r.plural === parts[0] && r.apiVersion === group);
  if (!resource) return undefined;
  return { resource, ns, name: parts[1], sub: parts[2] };
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(400, "BadRequest", "the body is not JSON");
  }
}

async function patchObject(r: Route, req: IncomingMessage): Promise<Obj> {
  const patch = await body(req);
  const type = req.headers["content-type"] ?? "";
  for (let attempt = 0; ; attempt++) {
    const current = await store.get(r.resource, r.ns, r.name!);
    const next = (
      type.includes("json-patch+json")
        ? jsonPatch(current, patch as { op: string; path: string }[])
        : mergePatch(current, patch)
    ) as Obj;
    const patchRv = (patch as { metadata?: { resourceVersion?: string } } | undefined)?.metadata
      ?.resourceVersion;
    try {
      // A patch without a resourceVersion is retried against the latest object, as the real apiserver does.
      return await store.update(
        r.resource,
        r.ns,
        r.name!,
        { ...next, metadata: { ...next.metadata, resourceVersion: undefined } },
        patchRv ?? current.metadata.resourceVersion,
        r.sub,
      );
    } catch (err) {
      if (err instanceof ApiError && err.code === 409 && !patchRv && attempt < 5) continue;
      throw err;
    }
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
  const url = new URL(req.url ?? "/", "https://localhost");
  const path = url.pathname.replace(/\/$/, "") || "/";
  const method = req.method ?? "GET";
  authenticate(req, path);
  if (["/readyz", "/livez", "/healthz"].includes(path)) {
    const problem = await etcdReady();
    if (problem) {
      send(res, 500, `[-]etcd failed: ${problem}\n${path.slice(1)} check failed\n`, "text/plain");
      return 500;
    }
    send(
      res,
      200,
      url.searchParams.has("verbose") ? `[+]etcd ok\n${path.slice(1)} check passed\n` : "ok",
      "text/plain",
    );
    return 200;
  }
  if (path === "/version") {
    const [major, minor] = version.split(".");
    send(res, 200, {
      major,
      minor,
      gitVersion: `v${version}`,
      platform: "linux/amd64",
      goVersion: "lab-standin",
    });
    return 200;
  }
  const d = discovery(path);
  if (d) {
    send(res, 200, d);
    return 200;
  }
  const r = route(path);
  if (!r) throw new ApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
  if (r.resource.namespaced && r.name && !r.ns)
    throw new ApiError(404, "NotFound", `${path}: namespace required`);
  let result: unknown;
  let code = 200;
  if (method === "GET" && !r.name) {
    const limit = Number(url.searchParams.get("limit") ?? 0);
    const {
      items,
      resourceVersion,
      continue: next,
    } = await store.list(r.resource, r.ns, {
      limit: Number.isInteger(limit) && limit > 0 ? limit : undefined,
      continue: url.searchParams.get("continue") ?? undefined,
    });
    result = wantsTable(req.headers.accept)
      ? toTable(r.resource.kind, items, resourceVersion, next)
      : {
          kind: `${r.resource.kind}List`,
          apiVersion: r.resource.apiVersion,
          metadata: { resourceVersion, ...(next && { continue: next }) },
          items,
        };
  } else if (method === "GET") {
    const obj = await store.get(r.resource, r.ns, r.name!);
    result = wantsTable(req.headers.accept) ? toTable(r.resource.kind, [obj]) : obj;
  } else if (method === "POST" && !r.name) {
    result = await store.create(r.resource, r.ns, (await body(req)) as Obj);
    code = 201;
  } else if (method === "PUT" && r.name) {
    result = await store.update(r.resource, r.ns, r.name, (await body(req)) as Obj, undefined, r.sub);
  } else if (method === "PATCH" && r.name) {
    result = await patchObject(r, req);
  } else if (method === "DELETE" && r.name) {
    const options = (await body(req)) as { preconditions?: { uid?: string; resourceVersion?: string } };
    result = await store.delete(r.resource, r.ns, r.name, options?.preconditions);
  } else {
    throw new ApiError(405, "MethodNotAllowed", `${method} ${path} is not supported by the lab apiserver`);
  }
  send(res, code, result);
  return code;
}

const PUBLIC_PATHS = ["/readyz", "/livez", "/healthz", "/version"];

/**
 * As the real apiserver's x509 authenticator: a certificate that does not verify against the client
 * CA is a 401 (not a TLS failure, which clients would retry); no certificate is system:anonymous,
 * which kubeadm's RBAC lets read only the health and version endpoints.
 */
function authenticate(req: IncomingMessage, path: string): void {
  const socket = req.socket as TLSSocket;
  const presented = Object.keys(socket.getPeerCertificate()).length > 0;
  if (presented && !socket.authorized) throw new ApiError(401, "Unauthorized", "Unauthorized");
  if (!presented && !PUBLIC_PATHS.includes(path))
    throw new ApiError(403, "Forbidden", `forbidden: User "system:anonymous" cannot get path "${path}"`);
}

/** The whole secure context: a reload replaces all of it, client CA included. */
function tlsOptions(): ServerOptions {
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), ca: clientCa };
}

const server = createServer({ ...tlsOptions(), requestCert: true, rejectUnauthorized: false }, (req, res) => {
  handle(req, res).then(
    (code) => console.log(`${req.method} ${req.url} ${code}`),
    (err: unknown) => {
      const e =
        err instanceof ApiError
          ? err
          : new ApiError(500, "InternalError", err instanceof Error ? err.message : String(err));
      console.log(`${req.method} ${req.url} ${e.code} ${e.message}`);
      if (!res.headersSent) status(res, e);
    },
  );
});

// The real apiserver reloads its serving certificate when the files change; so does this one.
let stamp = `${statSync(certFile).mtimeMs}:${statSync(keyFile).mtimeMs}`;
setInterval(() => {
  try {
    const now = `${statSync(certFile).mtimeMs}:${statSync(keyFile).mtimeMs}`;
    if (now !== stamp) {
      server.setSecureContext(tlsOptions());
      stamp = now;
      console.log("serving certificate reloaded");
    }
  } catch (err) {
    console.log(`serving certificate reload failed: ${(err as Error).message}`);
  }
}, 500).unref();

server.listen(port, bind, () =>
  console.log(`kube-apiserver stand-in v${version} listening on ${bind}:${port}`),
);

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    server.close();
    etcd.close();
    process.exit(0);
  });
}
