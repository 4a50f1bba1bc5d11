// Run by sidecar-tail-permissions.test.ts as a non-root uid: tails a pattern and prints, as JSON
// lines, what the tailer delivered and observed and which files it reports unreadable.
import { Tailer } from "../../sidecar/tail/tailer.ts";

const [pattern] = process.argv.slice(2);
if (!pattern) throw new Error("usage: tail-unreadable-child.ts <pattern>");
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const tailer = new Tailer({
  patterns: [pattern],
  maxLineBytes: 4_096,
  partialLineFlushMs: 200,
  pollMs: 50,
  rotateWaitMs: 200,
  positions: [],
  deliver: (events) => {
    for (const e of events) {
      if (e.kind === "line") print({ kind: "line", text: e.bytes.toString() });
      else if (e.kind === "loss")
        print({ kind: "loss", reason: e.reason, lostFrom: e.lostFrom, lostTo: e.lostTo });
    }
  },
  observe: (o) => {
    if (o.type === "file-unreadable" || o.type === "file-readable" || o.type === "tail-error")
      print({ observed: o.type, ...(o.type === "file-readable" && { how: o.how }) });
  },
});
await tailer.start();
setInterval(() => print({ unreadable: tailer.unreadableFiles().map((u) => u.code) }), 100);
