import type { KV } from "nats";
import { mirrorKv, revokedTokenKey, tokenHash, type Logger } from "@millrace/runtime";

/**
 * Revoked bearer tokens, mirrored in memory from the `revoked_tokens` KV
 * bucket by a watch, so every gateway replica refuses a revoked token within
 * moments and after any restart. Tokens already expire (`exp` is required);
 * this is for the leaked one that must stop working before then.
 * Keys and values: @millrace/runtime's revoked-tokens.ts; deploy/revoke-token.ts
 * writes them. A token without `iat` counts as issued before any cut-off.
 */
export interface RevocationCheck {
  /** Why the token is refused, or undefined when it is not revoked. */
  reason(token: string, p: { tenant: string; subject: string; iatMs: number | undefined }, nowMs: number): string | undefined;
}

export class TokenRevocations implements RevocationCheck {
  /** Token hash → the token's own expiry (ms). */
  private readonly tokens = new Map<string, number>();
  /** `s.<subject>` / `n.<tenant>` → tokens issued before this instant (ms) are refused. */
  private readonly before = new Map<string, number>();
  private stopFn?: () => void;

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the bucket's current entries are loaded: no request is served on a partial list. */
  async start(): Promise<void> {
    this.stopFn = await mirrorKv(this.kv, (e) => this.apply(e.key, e.operation === "PUT" ? e.value : undefined), this.logger, "token revocation");
  }

  private apply(key: string, value: Uint8Array | undefined): void {
    const kind = key.slice(0, 2);
    const map = kind === "t." ? this.tokens : kind === "s." || kind === "n." ? this.before : undefined;
    if (!map) return;
    const id = kind === "t." ? key.slice(2) : key;
    if (!value) {
      map.delete(id);
      return;
    }
    try {
      const v = JSON.parse(Buffer.from(value).toString()) as { exp?: number; before?: number };
      const at = kind === "t." ? v.exp : v.before;
      map.set(id, typeof at === "number" ? at : Number.POSITIVE_INFINITY);
    } catch {
      // An entry we cannot read still revokes: refusing is the safe side.
      map.set(id, Number.POSITIVE_INFINITY);
      this.logger.warn({ key }, "unreadable token revocation entry; treating it as revoking");
    }
  }

  reason(token: string, p: { tenant: string; subject: string; iatMs: number | undefined }, nowMs: number): string | undefined {
    // Hash only when something is revoked: no cost per request otherwise.
    if (this.tokens.size > 0) {
      const exp = this.tokens.get(tokenHash(token));
      if (exp !== undefined && exp > nowMs) return "token revoked";
    }
    if (this.before.size > 0) {
      const issued = p.iatMs ?? Number.NEGATIVE_INFINITY;
      const bySubject = this.before.get(revokedTokenKey("s", p.subject));
      if (bySubject !== undefined && issued < bySubject) return "token revoked (every token of its subject issued before the revocation)";
      const byTenant = this.before.get(revokedTokenKey("n", p.tenant));
      if (byTenant !== undefined && issued < byTenant) return "token revoked (every token of its tenant issued before the revocation)";
    }
    return undefined;
  }

  stop(): void {
    this.stopFn?.();
  }
}
