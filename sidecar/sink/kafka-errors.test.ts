// The error mapping, fed with kafkajs' own error classes (the broker-level cases are in
// test/integration/sidecar-kafka.test.ts; "not authorized" needs a broker with an authorizer,
// which the test broker has not, so its mapping is proven here).
import kafkajs from "kafkajs";
import { describe, expect, it } from "vitest";
import { kafkaError } from "./kafka-errors.ts";

const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;
// kafkajs builds protocol errors from its error table entries: { type, code, retriable, message }.
const protocol = (type: string, code: number) =>
  new KafkaJSProtocolError({ message: type.toLowerCase(), type, code, retriable: false } as never);
const retried = (e: Error) =>
  new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 1_000 });

describe("kafka error kinds", () => {
  it.each([
    [protocol("TOPIC_AUTHORIZATION_FAILED", 29), "not-authorized", false],
    [retried(protocol("TOPIC_AUTHORIZATION_FAILED", 29)), "not-authorized", false],
    [protocol("CLUSTER_AUTHORIZATION_FAILED", 31), "not-authorized", false],
    [retried(protocol("UNKNOWN_TOPIC_OR_PARTITION", 3)), "unknown-topic", true],
    [protocol("SASL_AUTHENTICATION_FAILED", 58), "auth-failed", false],
    [protocol("MESSAGE_TOO_LARGE", 10), "message-too-large", false],
    [
      retried(new KafkaJSConnectionError("Connection error: connect ECONNREFUSED")),
      "unreachable",
      true,
    ],
    [
      Object.assign(new Error("self-signed certificate in certificate chain"), {
        code: "SELF_SIGNED_CERT_IN_CHAIN",
      }),
      "tls",
      false,
    ],
  ] as const)("%s -> %s", (err, kind, retriable) => {
    const mapped = kafkaError(err, "kafka topic t");
    expect(mapped).toMatchObject({ kind, retriable });
    expect(mapped.message).toMatch(/^kafka topic t: /);
  });
});
