import { z } from "zod";
import { ConfigError } from "./errors";

/**
 * Parses a service's environment once, at start-up, with its own zod schema.
 * Only a service's main.ts calls this with process.env; everything below it
 * receives the typed object.
 */
export function loadConfig<S extends z.ZodTypeAny>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${issues.join("; ")}`, {
      field: String(parsed.error.issues[0]?.path.join(".") ?? ""),
    });
  }
  return parsed.data;
}

/** Settings every service shares: connections, logging, namespace. */
export const baseConfigSchema = z.object({
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  // How long the NATS client holds a write to gather others into it (ms; 0 =
  // until the end of the event-loop turn). See patches/nats@2.29.3.patch.
  NATS_FLUSH_MS: z.coerce.number().int().min(0).max(50).default(2),
  DATABASE_URL: z.string().default("postgres://postgres@127.0.0.1:5432/millrace"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  // Prefix for every stream, subject, bucket and consumer; tests use a unique one.
  MILLRACE_NAMESPACE: z.string().regex(/^[a-z0-9_]*$/, "lowercase letters, digits and _ only").default(""),
  STATUS_GRPC_ADDR: z.string().default("127.0.0.1:50051"),
  PREDICTOR_GRPC_ADDR: z.string().default("127.0.0.1:50052"),
  SCHEDULER_GRPC_ADDR: z.string().default("127.0.0.1:50053"),
  // Shared secret every internal gRPC call carries and every gRPC server checks (service-token.ts); unset: no check.
  GRPC_SERVICE_TOKEN: z.string().min(16, "at least 16 characters").optional(),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;

/** "a, b,,c" → ["a", "b", "c"]: a comma-separated setting, blanks dropped. */
export const commaList = (s: string): string[] =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

/** A comma-separated list setting (queues, kinds, backends, tenants). */
export const listSetting = (defaultValue: string) => z.string().default(defaultValue).transform(commaList);

/** The health server's settings (spread into a back-end service's schema); each service has its own default port. */
export function healthConfigShape(defaultPort: number) {
  return {
    HEALTH_PORT: z.coerce.number().int().min(0).max(65_535).default(defaultPort),
    HEALTH_HOST: z.string().default("0.0.0.0"),
  };
}

export { z };
