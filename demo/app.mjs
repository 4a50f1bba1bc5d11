// auditready-demo: a web app for trying the sidecar out. Answers every request with 200 and a
// line of text, and appends one access-log line per request in the nginx/Apache combined
// format to DEMO_ACCESS_LOG (default /var/log/app/access.log, created with mode DEMO_LOG_MODE,
// default 0640: 0600 shows what happens when the sidecar may not read it). Listens on
// PORT (default 8080). On SIGTERM it stops accepting, finishes open requests and closes the
// log, so the last lines are on disk before the sidecar drains. Node's own modules only.
import { createWriteStream, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname } from "node:path";

const port = Number(process.env.PORT ?? 8080);
const path = process.env.DEMO_ACCESS_LOG ?? "/var/log/app/access.log";
mkdirSync(dirname(path), { recursive: true });
const mode = Number.parseInt(process.env.DEMO_LOG_MODE ?? "640", 8);
const log = createWriteStream(path, { flags: "a", mode });
log.on("error", (err) => {
  console.error(`auditready-demo: cannot write ${path}: ${err.message}`);
  process.exit(1);
});

const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
const pad = (n) => String(n).padStart(2, "0");
/** [03/Dec/2026:15:04:05 +0000]: the time in UTC, as nginx writes $time_local with TZ=UTC. */
const timeLocal = (d) =>
  `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
  `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
/** Inside quotes, as nginx escapes: `"`, `\` and control bytes as \xHH. */
const quoted = (s) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what it escapes
  s.replace(/["\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
/** The basic-auth user name, or "-" (a field without spaces, as the format needs). */
function remoteUser(header) {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!m) return "-";
  const user = Buffer.from(m[1], "base64").toString("utf8").split(":")[0] ?? "";
  return user === "" ? "-" : quoted(user).replace(/\s/g, "_");
}

const server = createServer((req, res) => {
  const body = `auditready-demo: ${req.method} ${req.url}\n`;
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  res.end(body);
  res.on("finish", () => {
    const request = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
    log.write(
      `${(req.socket.remoteAddress ?? "-").replace(/^::ffff:/, "")} - ${remoteUser(req.headers.authorization)} ` +
        `[${timeLocal(new Date())}] "${quoted(request)}" ${res.statusCode} ${Buffer.byteLength(body)} ` +
        `"${quoted(req.headers.referer ?? "-")}" "${quoted(req.headers["user-agent"] ?? "-")}"\n`,
    );
  });
});
server.listen(port, () => console.log(`auditready-demo: listening on ${port}, logging to ${path}`));

process.once("SIGTERM", () => {
  server.close(() => log.end(() => process.exit(0)));
  server.closeIdleConnections();
});
