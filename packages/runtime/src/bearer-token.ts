// Signs an HS256 JWT for the tools that act as a client of the gateway: the
// dev runner's demo token, the end-to-end harness and the benchmarks. The
// gateway verifies with jose; signing needs only an HMAC, so the tools carry
// no JWT library. The caller sets every claim, exp included.
import { createHmac } from "node:crypto";

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export function signHs256Token(secret: string, claims: Record<string, unknown>): string {
  const signed = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(claims)}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}
