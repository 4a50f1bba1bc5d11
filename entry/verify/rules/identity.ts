// Rule: every log record names (in `event.k8s`) the pod and container that the certificate of
// the key sealing it names: a pod cannot speak for another, nor a recreated pod for its
// predecessor (another UID). None of a mismatching record counts as verified.
import type { KeyCert, KubernetesIdentity } from "../../record.ts";
import { identityMatches } from "../certs.ts";
import type { LeafTable } from "../leaves.ts";

/**
 * Whether each log record names the pod and container its key is certified for. Records of a
 * stream repeat one identity, so the last answer is kept; each distinct identity is parsed once.
 */
export class IdentityCheck {
  private lastKey = "";
  private lastEpoch = Number.NaN;
  private lastIdentity = -1;
  private lastOk = true;
  private count = 0;
  private first = -1;
  private last = -1;
  private example = "";

  private readonly leaves: LeafTable;
  private readonly certsOf: (keyId: string, epoch: number) => KeyCert[] | null;

  constructor(leaves: LeafTable, certsOf: (keyId: string, epoch: number) => KeyCert[] | null) {
    this.leaves = leaves;
    this.certsOf = certsOf;
  }

  /** False when leaf i names another pod than its key's certificates. */
  check(i: number, keyId: string): boolean {
    const leaves = this.leaves;
    const epoch = leaves.epochAt(i);
    const id = leaves.identityAt(i);
    if (keyId !== this.lastKey || epoch !== this.lastEpoch || id !== this.lastIdentity) {
      this.lastKey = keyId;
      this.lastEpoch = epoch;
      this.lastIdentity = id;
      // No key, or no valid certificate: its checkpoints are refused, reported there.
      const certs = keyId === "" || id < 0 ? null : this.certsOf(keyId, epoch);
      const k8s =
        certs === null ? null : (JSON.parse(leaves.identityText(id)) as KubernetesIdentity);
      this.lastOk = certs === null || k8s === null || identityMatches(certs, k8s);
      if (!this.lastOk && this.example === "" && certs && k8s) {
        const c = certs[0] as KeyCert;
        this.example = `names ${describe(k8s.namespace, k8s.pod, k8s.podUid, k8s.container)} but is sealed by ${keyId}, certified for ${describe(c.subject.namespace, c.subject.pod, c.subject.podUid, c.container)}`;
      }
    }
    if (!this.lastOk) {
      const seq = leaves.seqAt(i);
      this.count++;
      if (this.first < 0 || seq < this.first) this.first = seq;
      if (seq > this.last) this.last = seq;
    }
    return this.lastOk;
  }

  report(emit: (message: string, seq: [number, number], count: number) => void): void {
    if (this.count === 0) return;
    emit(
      `${this.count} record(s) claim another pod than their key's certificate: the first ${this.example}`,
      [this.first, this.last],
      this.count,
    );
  }
}

function describe(namespace: string, pod: string, uid: string, container: string): string {
  return `${namespace}/${pod} (uid ${uid}) container ${container}`;
}
