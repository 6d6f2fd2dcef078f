import { createServer, type Socket } from "node:net";
import type { Client } from "ssh2";
import type { Forward } from "./types.js";

/**
 * Listens on 127.0.0.1 (a free port) and tunnels each connection through the SSH connection to
 * remoteHost:remotePort as the remote machine sees it. close() stops listening and drops open tunnels.
 */
export async function forwardPort(client: Client, remoteHost: string, remotePort: number): Promise<Forward> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    // Small request/response frames (gRPC, HTTP/2 flow control) must not wait for Nagle's algorithm.
    sock.setNoDelay(true);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    client.forwardOut("127.0.0.1", sock.remotePort ?? 0, remoteHost, remotePort, (err, channel) => {
      // The local client sees a reset, as it would if the remote port were closed.
      if (err) return sock.destroy();
      sock.pipe(channel).pipe(sock);
      channel.on("close", () => sock.destroy());
      sock.on("close", () => channel.close());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("forward: server has no TCP address");
  return {
    localPort: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const sock of sockets) sock.destroy();
        server.close(() => resolve());
      }),
  };
}
