// Bearer tokens: 401s with WWW-Authenticate, tenant from the claims, tenant
// isolation, and the verified-token cache.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock, UnauthorizedError, createLogger, signHs256Token } from "@millrace/runtime";
import { uniqueName } from "@millrace/testkit";
import { buildApp, createAuthenticator, gatewayConfigSchema } from "../src/main";
import { SECRET, createHarness, requester, token, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.cleanup());

describe("authentication", () => {
  it("401 without a token, with a bad one, an expired one, or one signed with another secret", async () => {
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      "not bearer": "Basic dXNlcjpwYXNz",
      garbage: "Bearer not.a.jwt",
      expired: `Bearer ${await token("t1", { expiresIn: Math.floor(Date.now() / 1000) - 60 })}`,
      "wrong secret": `Bearer ${await token("t1", { secret: "another-secret-entirely-0123456789" })}`,
    };
    for (const [what, header] of Object.entries(cases)) {
      const res = await h.app.request("/v1/tasks", { headers: header ? { authorization: header } : {} });
      expect(res.status, what).toBe(401);
      expect(res.headers.get("www-authenticate"), what).toMatch(/^Bearer/);
      const body = await res.json() as any;
      expect(body.error.code, what).toBe("UNAUTHORIZED");
      expect(body.error.message, what).toBeTruthy();
    }
    const expired = await h.app.request("/v1/tasks", { headers: { authorization: cases.expired! } });
    expect((await expired.json() as any).error.message).toMatch(/expired/);
  });

  it("401 for a token without exp (it would never expire)", async () => {
    const forever = await new SignJWT({ tenant: "t1" }).setProtectedHeader({ alg: "HS256" }).setSubject("u1").sign(new TextEncoder().encode(SECRET));
    const res = await h.app.request("/v1/tasks", { headers: { authorization: `Bearer ${forever}` } });
    expect(res.status).toBe(401);
    expect((await res.json() as any).error.message).toBe("token has no 'exp' claim");
  });

  it("refuses to start with JWKS_URL but no issuer or audience to check", () => {
    const base = { NATS_URL: "nats://127.0.0.1:4222", DATABASE_URL: "postgres://postgres@127.0.0.1:5432/x", JWKS_URL: "https://idp.example/.well-known/jwks.json" };
    const missing = gatewayConfigSchema.safeParse(base);
    expect(missing.success).toBe(false);
    expect(missing.error!.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["JWT_ISSUER", "required with JWKS_URL"],
      ["JWT_AUDIENCE", "required with JWKS_URL"],
    ]);
    expect(gatewayConfigSchema.safeParse({ ...base, JWT_ISSUER: "https://idp.example/", JWT_AUDIENCE: "millrace" }).success).toBe(true);
  });

  it("accepts the tokens runtime's signHs256Token makes (the dev runner's, the harness's, the benches'), and only with the right secret", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const signed = signHs256Token(SECRET, { sub: "u1", tenant: "t1", exp });
    const { payload, protectedHeader } = await jwtVerify(signed, new TextEncoder().encode(SECRET), { algorithms: ["HS256"] });
    expect(protectedHeader).toEqual({ alg: "HS256", typ: "JWT" });
    expect(payload).toEqual({ sub: "u1", tenant: "t1", exp });
    expect((await h.app.request("/v1/tasks", { headers: { authorization: `Bearer ${signed}` } })).status).toBe(200);
    const forged = signHs256Token("another-secret-entirely-0123456789", { sub: "u1", tenant: "t1", exp });
    expect((await h.app.request("/v1/tasks", { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it("health endpoints need no token", async () => {
    expect((await h.app.request("/healthz")).status).toBe(200);
  });

  it("uses the tenant claim, else sub, and scopes every lookup by it", async () => {
    const a = uniqueName("tenant_");
    const b = uniqueName("tenant_");
    const resA = await requester(h.app, await token(a))("POST", "/v1/predict/async", { model: "m", instances: [{ x: 1 }] });
    const { task_id } = await resA.json() as any;
    expect(h.status.tasks.get(task_id)?.tenant).toBe(a);

    const mine = await requester(h.app, await token(a))("GET", `/v1/tasks/${task_id}`);
    expect(mine.status).toBe(200);
    const theirs = await requester(h.app, await token(b))("GET", `/v1/tasks/${task_id}`);
    expect(theirs.status).toBe(404);
    expect((await theirs.json() as any).error.code).toBe("NOT_FOUND");
    // sub-only token: the subject is the tenant.
    const viaSub = await requester(h.app, await token(a, { claim: "sub" }))("GET", `/v1/tasks/${task_id}`);
    expect(viaSub.status).toBe(200);
  });
});

describe("verified-token cache", () => {
  it("verifies a token once, honours its expiry and stays bounded", async () => {
    const clock = new ManualClock(Date.now());
    const auth = createAuthenticator({ secret: SECRET, clock, cacheSize: 2 });
    const t1 = await token("a", { expiresIn: "2m" });
    expect(await auth.verify(t1)).toEqual({ tenant: "a", subject: "user-of-a" });
    expect(auth.cacheEntries).toBe(1);
    expect((await auth.verify(t1)).tenant).toBe("a");
    await auth.verify(await token("b"));
    await auth.verify(await token("c"));
    expect(auth.cacheEntries).toBe(2);
    // Past its exp the cached entry is not used: verification fails as expired.
    const t2 = await token("d", { expiresIn: "1m" });
    await auth.verify(t2);
    clock.advance(61_000);
    await expect(auth.verify(t2)).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe("JWKS", () => {
  let server: Server;
  let url: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("verifies RS256 tokens against the key set, with issuer and audience", async () => {
    const auth = createAuthenticator({ jwksUrl: url, issuer: "https://idp.example", audience: "millrace", clock: { now: () => Date.now() } });
    const sign = (claims: { iss: string; aud: string }) =>
      new SignJWT({ tenant: "acme" }).setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuer(claims.iss).setAudience(claims.aud).setSubject("u1").setExpirationTime("5m").sign(privateKey);
    expect(await auth.verify(await sign({ iss: "https://idp.example", aud: "millrace" }))).toEqual({ tenant: "acme", subject: "u1" });
    await expect(auth.verify(await sign({ iss: "https://other", aud: "millrace" }))).rejects.toThrow(/iss/);
    await expect(auth.verify(await sign({ iss: "https://idp.example", aud: "else" }))).rejects.toThrow(/aud/);
    // An HS256 token is refused when no secret is configured.
    await expect(auth.verify(await token("acme"))).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe("request log", () => {
  it("writes one line per request with the task id, and never the token", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        cb();
      },
    });
    const app = buildApp({ ...h.deps, logger: createLogger("gateway", "info", sink) });
    const bearer = await token(uniqueName("tenant_"));
    const res = await app.request("/v1/predict/async", {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "m", instances: [{ x: 1 }] }),
    });
    const { task_id } = (await res.json()) as { task_id: string };
    await app.request("/v1/tasks", { headers: { authorization: "Bearer not.a.valid-token" } });
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    expect(requests).toEqual([
      expect.objectContaining({ method: "POST", path: "/v1/predict/async", status: 202, task_id }),
      expect.objectContaining({ method: "GET", path: "/v1/tasks", status: 401, code: "UNAUTHORIZED" }),
    ]);
    const all = lines.join("\n");
    expect(all).not.toContain(bearer);
    expect(all).not.toContain("not.a.valid-token");
  });
});
