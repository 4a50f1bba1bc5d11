// The sidecar's HTTP endpoints for the kubelet and Prometheus: /healthz (the process answers),
// /readyz (state loaded and the sink reachable, or spooling with room left; 503 with the
// reasons otherwise) and /metrics (the events' registry). Nothing else is served.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Events } from "./events.ts";

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(opts: {
  host: string;
  port: number;
  events: Events;
  readiness(): Readiness;
}): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const r = opts.readiness();
      res
        .writeHead(r.ready ? 200 : 503, { "content-type": "application/json" })
        .end(`${JSON.stringify(r)}\n`);
      return;
    }
    if (path === "/metrics") {
      opts.events.registry.metrics().then(
        (text) =>
          res.writeHead(200, { "content-type": opts.events.registry.contentType }).end(text),
        (err: unknown) => {
          opts.events.logger.error({ event: "metrics-failed", error: String(err) }, "metrics");
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
