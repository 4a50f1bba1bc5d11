// Rule: key validity at checkpoints. A checkpoint counts only when its signer has a valid
// certificate for this origin and the checkpoint's epoch (UNCERTIFIED_KEY, KEY_NOT_VALID,
// WRONG_ORIGIN or FUTURE_DATED otherwise, one finding per key and epoch however many
// checkpoints it signed), and the checkpoint's time lies in one of that key's certificate
// windows (KEY_NOT_VALID otherwise). A key only the trusted state vouches for, whose
// certificates retention removed, has nothing to be judged by: its checkpoints count.
import type { KeyCert } from "../../record.ts";
import { inWindow, type KeyProblem } from "../certs.ts";
import type { Report } from "../findings.ts";

/** What the rule asks of the certificates (certs.ts' CertBook). */
export interface Certificates {
  certsFor(keyId: string, epoch: number): KeyCert[];
  problemOf(keyId: string, epoch: number): { code: KeyProblem; why: string };
}

interface Refused {
  code: KeyProblem;
  why: string;
  count: number;
  where: { epoch: number; position: string };
}

export class CheckpointSigners {
  private readonly refused = new Map<string, Refused>();
  private readonly certs: Certificates;
  private readonly fromState: (keyId: string) => boolean;

  constructor(certs: Certificates, fromState: (keyId: string) => boolean) {
    this.certs = certs;
    this.fromState = fromState;
  }

  /**
   * Whether the checkpoint of `size` that `keyId` signed for `epoch` at `time` counts. A
   * refused key is reported by report(); a time outside its windows right away.
   */
  counts(
    keyId: string,
    epoch: number,
    size: number,
    time: string,
    where: { epoch: number; position: string },
    report: Report,
  ): boolean {
    const found = this.certs.certsFor(keyId, epoch);
    const certs = found.length > 0 ? found : null;
    if (certs === null && !this.fromState(keyId)) {
      const id = `${keyId} ${epoch}`;
      const had = this.refused.get(id);
      if (had) had.count++;
      else this.refused.set(id, { ...this.certs.problemOf(keyId, epoch), count: 1, where });
      return false;
    }
    if (certs !== null && !inWindow(certs, Date.parse(time))) {
      report(
        "KEY_NOT_VALID",
        `checkpoint at size ${size} is signed by ${keyId} at ${time}, outside every certificate window of that key`,
        where,
      );
      return false;
    }
    return true;
  }

  /** One finding per refused key and epoch. */
  report(report: Report): void {
    for (const [id, r] of this.refused) {
      report(
        r.code,
        `${r.count} checkpoint(s) signed by epoch key ${id.split(" ")[0]}, which does not count here: ${r.why}`,
        { ...r.where, count: r.count },
      );
    }
  }
}
