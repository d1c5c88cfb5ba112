// The gateway's settings, validated once by main.ts and passed down typed.
import { baseConfigSchema, z } from "@millrace/runtime";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === "" ? undefined : v));

export const gatewayConfigSchema = baseConfigSchema
  .extend({
    PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
    HOST: z.string().default("0.0.0.0"),
    // HS256 shared secret. Required unless JWKS_URL is set.
    JWT_SECRET: optionalString,
    JWKS_URL: optionalString.pipe(z.string().url().optional()),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    MAX_BODY_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    // Sync POST /v1/predict and /v1/explain: MAX_INSTANCES rows must fit (10,000
    // rows of 10 numeric features are ~1.1 MB of JSON, over MAX_BODY_BYTES).
    // The async variants go through NATS and keep MAX_BODY_BYTES.
    MAX_PREDICT_BODY_BYTES: z.coerce.number().int().positive().default(32 * 1024 * 1024),
    MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(100 * 1000 * 1000),
    MAX_INSTANCES: z.coerce.number().int().positive().default(10_000),
    SYNC_WAIT_MS: z.coerce.number().int().positive().default(60_000),
    PUBLIC_URL: optionalString.pipe(z.string().url().optional()),
    // How long an Idempotency-Key names its task (as the status service's CreateTask).
    IDEMPOTENCY_TTL_MS: z.coerce.number().int().positive().default(24 * 3_600_000),
    // Verified bearer tokens kept in memory (LRU) until they expire.
    AUTH_CACHE_SIZE: z.coerce.number().int().min(0).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (!c.JWT_SECRET && !c.JWKS_URL) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["JWT_SECRET"], message: "set JWT_SECRET (HS256) or JWKS_URL" });
    }
    // An identity provider signs tokens for many applications: without both
    // checks, any of them would be accepted here, its sub taken as a tenant.
    if (c.JWKS_URL) {
      for (const key of ["JWT_ISSUER", "JWT_AUDIENCE"] as const) {
        if (!c[key]) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `required with JWKS_URL` });
      }
    }
  });

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
