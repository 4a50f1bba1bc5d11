// The webhook's HTTPS server: POST /mutate decodes an AdmissionReview, calls admit() with the
// policies from the controller's cache (no API call on the request path), and encodes the
// answer; /healthz for probes, /metrics for Prometheus. Every request is timed into one
// histogram. The serving certificate can be replaced while running (setCertificate), so
// rotation needs no restart.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Histogram, Registry } from "prom-client";
import type { Policy } from "../api/policy.ts";
import type { CertifyService } from "../certify/service.ts";
import { CERTIFY_PATH } from "../names.ts";
import { type AdmitContext, admit } from "./admit.ts";
import { decodeReview, encodeReview } from "./review.ts";

export interface WebhookServerOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  policiesIn: (namespace: string) => readonly Policy[];
  ctx: AdmitContext;
  log: Logger;
  latency: Histogram<"decision">;
  metrics: Registry;
  /** POST /certify: a sidecar's epoch key, certified for its own pod (operator/certify/). */
  certify?: CertifyService;
}

export interface WebhookServer {
  readonly port: number;
  setCertificate(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;
const MAX_CERTIFY_BODY = 64 * 1024;

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const server: Server = createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      res.end("ok");
      return;
    }
    if (req.method === "GET" && req.url === "/metrics") {
      void opts.metrics.metrics().then((text) => {
        res.writeHead(200, { "content-type": opts.metrics.contentType }).end(text);
      });
      return;
    }
    if (req.method === "POST" && req.url === CERTIFY_PATH && opts.certify) {
      const certify = opts.certify;
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_CERTIFY_BODY) req.destroy(new Error("certify request larger than 64 KiB"));
        else chunks.push(c);
      });
      req.on("error", (err) => opts.log.warn({ err: String(err) }, "certify request failed"));
      req.on("end", () => {
        void certify
          .handle(req.headers.authorization, Buffer.concat(chunks).toString("utf8"))
          .then((a) => {
            res
              .writeHead(a.status, { "content-type": "application/json" })
              .end(JSON.stringify(a.body));
          });
      });
      return;
    }
    if (req.method !== "POST" || !req.url?.startsWith("/mutate")) {
      res.writeHead(404).end();
      return;
    }
    const started = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error("admission review larger than 8 MiB"));
      else chunks.push(c);
    });
    req.on("error", (err) => opts.log.warn({ err }, "webhook request failed"));
    req.on("end", () => {
      const decoded = decodeReview(Buffer.concat(chunks).toString("utf8"));
      if (!decoded.ok) {
        opts.log.warn({ error: decoded.error }, "bad admission review");
        res.writeHead(400, { "content-type": "text/plain" }).end(decoded.error.message);
        return;
      }
      const { request } = decoded;
      const decision = admit(
        request.namespace,
        request.pod,
        opts.policiesIn(request.namespace),
        opts.ctx,
      );
      const label = !decision.allowed
        ? "denied"
        : decision.patch.length > 0
          ? "patched"
          : "allowed";
      if (!decision.allowed || decision.warnings.length > 0) {
        opts.log.info(
          {
            namespace: request.namespace,
            pod: request.pod.metadata?.name ?? request.pod.metadata?.generateName,
            policy: decision.policy,
            decision: label,
            message: decision.message,
            warnings: decision.warnings,
          },
          "admission decision",
        );
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(encodeReview(request.uid, decision));
      opts.latency.observe({ decision: label }, Number(process.hrtime.bigint() - started) / 1e9);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    setCertificate(certPem, keyPem) {
      server.setSecureContext({ cert: certPem, key: keyPem });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
