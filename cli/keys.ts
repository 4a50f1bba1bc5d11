// `auditready keys generate`: a policy signing key for running without the operator (the
// ledger demo, tests, air-gapped setups). The private key goes to a file created 0600, never to
// stdout; the public half is printed as a trusted-keys document for `verify --keys`.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { generateSigningKey, privateKeyPem } from "../entry/keys.ts";
import { UsageError } from "./trust.ts";

export const KEYS_HELP = `Usage: auditready keys generate --out FILE [--public-out FILE]

Makes an Ed25519 policy key. The private key (PKCS#8 PEM) is written to --out with mode 0600
and must not exist yet; the public half is printed as {"keys":[...]} (or written to
--public-out) for "auditready verify --keys".
`;

export async function runKeys(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      "public-out": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(KEYS_HELP);
    return 0;
  }
  if (positionals[0] !== "generate")
    throw new UsageError(`keys: expected "generate"\n\n${KEYS_HELP}`);
  if (!values.out) throw new UsageError("keys generate: --out FILE is required");
  const key = generateSigningKey();
  try {
    await writeFile(values.out, privateKeyPem(key), { mode: 0o600, flag: "wx" });
  } catch (err) {
    throw new UsageError(`keys generate: ${values.out}: ${(err as Error).message}`);
  }
  const pub = `${JSON.stringify({ keys: [{ keyId: key.keyId, publicKey: key.publicKey.toString("base64"), notBefore: new Date().toISOString() }] }, null, 2)}\n`;
  if (values["public-out"]) await writeFile(values["public-out"], pub);
  else process.stdout.write(pub);
  return 0;
}
