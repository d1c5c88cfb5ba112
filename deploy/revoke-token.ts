// Revokes bearer tokens at every gateway: they answer 401 "token revoked"
// within moments (each gateway watches the `revoked_tokens` KV bucket) and
// after any restart. Runs with the `provisioner` NATS user, like
// provision-topology.ts; it is an operator's tool, not a service.
//
//   node --import tsx deploy/revoke-token.ts --token <jwt>         one token (a leaked one)
//   node --import tsx deploy/revoke-token.ts --subject <sub>       every token of a subject issued until now
//   node --import tsx deploy/revoke-token.ts --tenant <tenant>     every token of a tenant issued until now
//   node --import tsx deploy/revoke-token.ts --undo --subject <sub>
//   node --import tsx deploy/revoke-token.ts --list | --prune      (prune: drop entries of tokens that expired)
//
// The token itself is never printed or stored: the bucket keeps its SHA-256.
import { parseArgs } from "node:util";
import { baseConfigSchema, connectNats, createLogger, isEntryFile, loadConfig, revokedTokenKey, Topology, type RevocationKind } from "@millrace/runtime";
import type { KV, NatsConnection } from "nats";

export const revokeConfigSchema = baseConfigSchema.pick({ NATS_URL: true, NATS_USER: true, NATS_PASSWORD: true, LOG_LEVEL: true, MILLRACE_NAMESPACE: true });

export interface RevokeRequest {
  kind: RevocationKind;
  value: string;
  undo?: boolean;
}

export class RevokeInputError extends Error {
  readonly code = "REVOKE_INPUT";
}

/** Writes (or removes) one revocation; returns the key. `nowMs` is the subject/tenant cut-off. */
export async function revoke(kv: KV, req: RevokeRequest, nowMs: number): Promise<string> {
  const key = revokedTokenKey(req.kind, req.value);
  if (req.undo) {
    await kv.delete(key);
    return key;
  }
  if (req.kind === "t") {
    const exp = jwtExpiryMs(req.value);
    await kv.put(key, JSON.stringify({ exp: exp ?? null, at: nowMs }));
  } else {
    await kv.put(key, JSON.stringify({ before: nowMs, at: nowMs }));
  }
  return key;
}

/** The token's `exp` in ms, read without verifying it (the gateway verifies; this only bounds the entry's life). */
function jwtExpiryMs(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) throw new RevokeInputError("--token is not a JWT (three dot-separated parts)");
  let claims: { exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString()) as { exp?: unknown };
  } catch {
    throw new RevokeInputError("--token is not a JWT (its payload is not JSON)");
  }
  return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
}

/** Deletes token entries whose token has expired anyway; returns how many. */
export async function prune(kv: KV, nowMs: number): Promise<number> {
  let n = 0;
  for await (const key of await kv.keys("t.>")) {
    const e = await kv.get(key);
    const exp = e?.operation === "PUT" ? (e.json<{ exp: number | null }>().exp ?? Infinity) : Infinity;
    if (exp <= nowMs) {
      await kv.delete(key);
      n += 1;
    }
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { token: { type: "string" }, subject: { type: "string" }, tenant: { type: "string" }, undo: { type: "boolean" }, list: { type: "boolean" }, prune: { type: "boolean" } },
  });
  const config = loadConfig(revokeConfigSchema, process.env);
  const logger = createLogger("revoke-token", config.LOG_LEVEL);
  const nc: NatsConnection = await connectNats({ url: config.NATS_URL, user: config.NATS_USER, password: config.NATS_PASSWORD, name: "revoke-token", inboxPrefix: "_INBOX_provisioner", logger });
  try {
    const kv = await nc.jetstream().views.kv(new Topology(config.MILLRACE_NAMESPACE).bucket("revoked_tokens"));
    if (values.list) {
      for await (const key of await kv.keys()) console.log(key, Buffer.from((await kv.get(key))?.value ?? []).toString());
      return;
    }
    if (values.prune) {
      console.log(`pruned ${await prune(kv, Date.now())} expired token entries`);
      return;
    }
    const picked = (["token", "subject", "tenant"] as const).filter((k) => values[k] !== undefined);
    if (picked.length !== 1) throw new RevokeInputError("give exactly one of --token, --subject, --tenant (or --list, --prune)");
    const kind: RevocationKind = picked[0] === "token" ? "t" : picked[0] === "subject" ? "s" : "n";
    const key = await revoke(kv, { kind, value: values[picked[0]]!, undo: values.undo }, Date.now());
    logger.info({ key, undo: Boolean(values.undo) }, values.undo ? "revocation removed" : "revoked");
  } finally {
    await nc.close();
  }
}

if (isEntryFile(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
