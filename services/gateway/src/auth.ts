// Bearer-token authentication. HS256 with JWT_SECRET, or keys from JWKS_URL.
// Verified tokens are cached by their string until they expire (bounded LRU):
// the benchmark sends the same bearer thousands of times a second, and an
// HMAC verify plus claim checks per request is the gateway's biggest fixed cost.
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { BoundedMap, UnauthorizedError, type Clock } from "@millrace/runtime";
import type { GatewayEnv } from "./context";
import type { RevocationCheck } from "./token-revocations";

export interface Principal {
  tenant: string;
  subject: string;
}

export interface AuthOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Entries kept in the verified-token cache; 0 disables it. */
  cacheSize?: number;
  clock: Clock;
  /** Revoked tokens (token-revocations.ts), checked on every request, cached or not. */
  revocations?: RevocationCheck;
}

export interface Authenticator {
  verify(token: string): Promise<Principal>;
  readonly cacheEntries: number;
}

interface CacheEntry extends Principal {
  expMs: number;
  iatMs: number | undefined;
}

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

function principalOf(payload: JWTPayload): Principal {
  const tenantClaim = (payload as { tenant?: unknown }).tenant;
  const tenant = typeof tenantClaim === "string" && tenantClaim ? tenantClaim : typeof payload.sub === "string" ? payload.sub : "";
  if (!tenant) throw new UnauthorizedError("token carries neither a tenant nor a sub claim");
  if (tenant.length > 128) throw new UnauthorizedError("tenant claim longer than 128 characters");
  return { tenant, subject: typeof payload.sub === "string" ? payload.sub : tenant };
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return err.reason === "missing" ? `token has no '${err.claim}' claim` : `token claim '${err.claim}' is not valid`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature is not valid";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key matches the token";
  return "token is not valid";
}

export function createAuthenticator(opts: AuthOptions): Authenticator {
  const secret = opts.secret ? new TextEncoder().encode(opts.secret) : undefined;
  const jwks = opts.jwksUrl ? createRemoteJWKSet(new URL(opts.jwksUrl)) : undefined;
  const algorithms = [...(secret ? ["HS256"] : []), ...(jwks ? ASYMMETRIC : [])];
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === "HS256" && secret) return secret;
    if (jwks) return jwks(header, token);
    throw new joseErrors.JOSEAlgNotAllowed("algorithm not allowed");
  };
  const max = opts.cacheSize ?? 10_000;
  // Least recently used out first: a hit is re-inserted.
  const cache = new BoundedMap<string, CacheEntry>({ max, touch: true });

  return {
    get cacheEntries() {
      return cache.size;
    },
    async verify(token: string): Promise<Principal> {
      const now = opts.clock.now();
      const hit = cache.get(token);
      if (hit) {
        if (hit.expMs <= now) cache.delete(token);
        else {
          const revoked = opts.revocations?.reason(token, hit, now);
          if (revoked) throw new UnauthorizedError(revoked);
          return hit;
        }
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: opts.issuer,
          audience: opts.audience,
          currentDate: new Date(now),
          // A token without exp would be valid forever: a leaked one could never be retired.
          requiredClaims: ["exp"],
        }));
      } catch (err) {
        throw new UnauthorizedError(describe(err));
      }
      const principal = principalOf(payload);
      const iatMs = typeof payload.iat === "number" ? payload.iat * 1000 : undefined;
      const revoked = opts.revocations?.reason(token, { ...principal, iatMs }, now);
      if (revoked) throw new UnauthorizedError(revoked);
      cache.set(token, { ...principal, expMs: (payload.exp as number) * 1000, iatMs });
      return principal;
    },
  };
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i;

/** Requires a valid bearer token and records the caller's tenant on the context. */
export function requireAuth(auth: Authenticator): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw new UnauthorizedError("missing bearer token");
    const m = BEARER.exec(header);
    if (!m) throw new UnauthorizedError("authorization header is not a bearer token");
    const p = await auth.verify(m[1]);
    c.set("tenant", p.tenant);
    c.set("subject", p.subject);
    await next();
  };
}
