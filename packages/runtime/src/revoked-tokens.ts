import { createHash } from "node:crypto";

/**
 * Keys of the `revoked_tokens` KV bucket, shared by the gateway (which reads
 * them) and deploy/revoke-token.ts (which writes them):
 * - `t.<sha256 of the token>`: one token; value `{exp}` (ms): the token's own
 *   expiry, after which the entry no longer matters;
 * - `s.<subject>` / `n.<tenant>`: every token of that subject or tenant issued
 *   (`iat`) before `{before}` (ms).
 * A subject or tenant outside the KV key alphabet is hex-encoded (`x<hex>`).
 */
export type RevocationKind = "t" | "s" | "n";

const KEY_SAFE = /^[-_=A-Za-z0-9]+$/;

export function revokedTokenKey(kind: RevocationKind, value: string): string {
  if (kind === "t") return `t.${tokenHash(value)}`;
  return `${kind}.${KEY_SAFE.test(value) ? value : `x${Buffer.from(value).toString("hex")}`}`;
}

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
