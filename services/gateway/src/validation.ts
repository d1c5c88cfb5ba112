// Request reading and validation: bounded body reads, one JSON.parse per
// request, zod schemas for the pieces every job request shares, and zod issues
// turned into a ValidationError that names the field (`model.type`, `instances[3]`).
import type { Context } from "hono";
import type { RetryPolicy, TimeLimits } from "@millrace/contracts";
import { DEFAULT_RETRY, PayloadTooLargeError, QUEUES, ValidationError, isQueue, z, type QueueName } from "@millrace/runtime";
import { UnsupportedMediaTypeError } from "./errors";

/** `a.b[3].c` from a zod path. */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${p}` : p;
  }
  return out;
}

// Options users bring from Celery, which would otherwise be refused as merely unknown.
const CELERY_NAMES: Record<string, string> = {
  expires: "start_within_ms",
  time_limit: "time_limits.hard_ms",
  soft_time_limit: "time_limits.soft_ms",
  max_retries: "retry.max_attempts",
  retry_backoff: "retry.initial_ms and retry.factor",
  priority: "queue (high, default, batch)",
  countdown: "a schedule (POST /v1/schedules); a job starts when a worker is free",
  eta: "a schedule (POST /v1/schedules); a job starts when a worker is free",
};

/**
 * An unknown field is a 400 naming it, not silently dropped: a misspelt option
 * (`time_limit` for `time_limits`) would otherwise leave a job without the
 * limit its sender asked for.
 */
export function unknownField(path: ReadonlyArray<string | number>): ValidationError {
  const field = fieldPath(path);
  const key = String(path[path.length - 1]);
  const hint = CELERY_NAMES[key] ? `; use ${CELERY_NAMES[key]}` : "";
  return new ValidationError(`${field}: unknown field${hint}`, { field });
}

/** The fields of `obj` a schema's shape names, for objects that carry other fields beside them (a workflow's spec). */
export function shapeFields(obj: Record<string, unknown>, shape: z.ZodRawShape): Record<string, unknown> {
  return Object.fromEntries(Object.keys(shape).map((k) => [k, obj[k]]));
}

/** Refuses the first key of `obj` not in `allowed` (for objects read by hand rather than by a strict schema). */
export function rejectUnknownKeys(obj: Record<string, unknown>, allowed: ReadonlySet<string>, prefix: ReadonlyArray<string | number> = []): void {
  for (const k of Object.keys(obj)) if (!allowed.has(k)) throw unknownField([...prefix, k]);
}

/** Parses with a zod schema; the first issue becomes a ValidationError naming its field. */
export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, prefix: ReadonlyArray<string | number> = []): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue.code === "unrecognized_keys") throw unknownField([...prefix, ...issue.path, issue.keys[0]]);
  const field = fieldPath([...prefix, ...issue.path]) || "body";
  throw new ValidationError(`${field}: ${issue.message}`, { field });
}

/** Reads at most `limit` bytes of a stream; more is a 413. */
async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(`request body is larger than ${limit} bytes`, { field: "body" });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Deepest nesting a JSON body may have. Free-form fields (params, options, node input) are encoded recursively downstream. */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `max` (iterative: a deep value must not overflow the check itself). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

const JSON_MEDIA_TYPES = new Set(["", "application/json", "text/plain"]);

/**
 * Reads and parses a JSON body, refusing more than `limit` bytes (413) before
 * reading when Content-Length says so, else while counting the stream. With
 * `optional`, an empty body is undefined rather than a 400.
 */
export async function readJson(c: Context, limit: number, opts: { optional?: boolean } = {}): Promise<unknown> {
  const declared = c.req.header("content-length");
  let text: string;
  if (declared !== undefined && /^\d+$/.test(declared)) {
    if (Number(declared) > limit) throw new PayloadTooLargeError(`request body is larger than ${limit} bytes`, { field: "body" });
    text = await c.req.text();
  } else {
    text = Buffer.from(await readLimited(c.req.raw.body, limit)).toString("utf8");
  }
  if (text.length === 0) {
    if (opts.optional) return undefined;
    throw new ValidationError("request body is empty; expected a JSON object", { field: "body" });
  }
  // A body declared as something else (curl -d's form encoding, CSV sent to
  // the wrong route) is the client's mistake: named, not guessed at. No
  // Content-Type, and text/plain (what fetch sends with a string body), are read as JSON.
  const media = contentType(c.req.header("content-type"));
  if (!JSON_MEDIA_TYPES.has(media) && !media.endsWith("+json")) {
    throw new UnsupportedMediaTypeError(`content-type ${media} is not JSON; send the body as application/json`, { field: "content-type" });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`request body is not valid JSON: ${(err as Error).message}`, { field: "body" });
  }
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) throw new ValidationError(`request body nests deeper than ${MAX_JSON_DEPTH} levels`, { field: "body" });
  return value;
}

/** Reads a JSON body that must be an object. */
export async function readJsonObject(c: Context, limit: number): Promise<Record<string, unknown>>;
/** With `optional`: an empty body is undefined; any other must be an object. */
export async function readJsonObject(c: Context, limit: number, opts: { optional: true }): Promise<Record<string, unknown> | undefined>;
export async function readJsonObject(c: Context, limit: number, opts: { optional?: boolean } = {}): Promise<Record<string, unknown> | undefined> {
  const v = await readJson(c, limit, opts);
  if (v === undefined && opts.optional) return undefined;
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new ValidationError("request body must be a JSON object", { field: "body" });
  return v as Record<string, unknown>;
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** name, name@alias or name@vN */
const MODEL_REF_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(@[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$/;

export const nameSchema = z.string().regex(NAME_RE, "must start with a letter or digit and use only letters, digits, '_', '.', '-' (at most 64)");
export const modelRefSchema = z.string().regex(MODEL_REF_RE, "must be 'name', 'name@alias' or 'name@vN'");

const queueSchema = z.string().refine(isQueue, { message: `must be one of ${QUEUES.join(", ")}` });

const retrySchema = z.object({
  max_attempts: z.number().int().min(1).max(100).optional(),
  initial_ms: z.number().int().min(1).max(86_400_000).optional(),
  factor: z.number().min(1).max(100).optional(),
  max_ms: z.number().int().min(1).max(86_400_000).optional(),
  jitter: z.number().min(0).max(1).optional(),
}).strict();

const timeLimitsSchema = z
  .object({
    soft_ms: z.number().int().min(1).max(7 * 86_400_000).optional(),
    hard_ms: z.number().int().min(1).max(7 * 86_400_000).optional(),
  })
  .strict()
  .refine((t) => !t.soft_ms || !t.hard_ms || t.hard_ms >= t.soft_ms, { message: "must be at least soft_ms", path: ["hard_ms"] });

/** Options every job request may carry. Spread into a route's body schema. */
export const jobOptionsShape = {
  queue: queueSchema.optional(),
  retry: retrySchema.optional(),
  time_limits: timeLimitsSchema.optional(),
  // Celery's `expires`: a job not started this long after the submit is not run (REVOKED, code EXPIRED).
  start_within_ms: z.number().int().min(1).max(7 * 86_400_000).optional(),
};

export interface JobOptionsInput {
  queue?: string;
  retry?: z.infer<typeof retrySchema>;
  time_limits?: z.infer<typeof timeLimitsSchema>;
  start_within_ms?: number;
}

export interface JobOptions {
  queue: QueueName;
  retry?: RetryPolicy;
  timeLimits?: TimeLimits;
  /** The job's start_by is its creation plus this; absent = no deadline. */
  startWithinMs?: number;
}

/**
 * Unset retry fields travel as 0, which workers fill from the kind's defaults
 * (mergeRetry). Jitter is the exception: 0 is a real value, so an unset jitter
 * is filled here with the default.
 */
export function jobOptions(input: JobOptionsInput): JobOptions {
  const out: JobOptions = { queue: (input.queue as QueueName | undefined) ?? "default" };
  if (input.retry) {
    out.retry = {
      maxAttempts: input.retry.max_attempts ?? 0,
      initialMs: input.retry.initial_ms ?? 0,
      factor: input.retry.factor ?? 0,
      maxMs: input.retry.max_ms ?? 0,
      jitter: input.retry.jitter ?? DEFAULT_RETRY.jitter,
    };
  }
  if (input.time_limits) out.timeLimits = { softMs: input.time_limits.soft_ms ?? 0, hardMs: input.time_limits.hard_ms ?? 0 };
  if (input.start_within_ms) out.startWithinMs = input.start_within_ms;
  return out;
}

/** Rows for prediction: a non-empty array of plain objects, at most `max`. Checked by hand: zod is slow on 10,000 rows. */
export function checkInstances(value: unknown, max: number, field = "instances"): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw new ValidationError(`${field}: must be an array of objects`, { field });
  if (value.length === 0) throw new ValidationError(`${field}: must not be empty`, { field });
  if (value.length > max) throw new PayloadTooLargeError(`${field}: at most ${max} instances per request (got ${value.length})`, { field });
  for (let i = 0; i < value.length; i++) {
    const row = value[i];
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw new ValidationError(`${field}[${i}]: must be an object of column: value`, { field: `${field}[${i}]` });
    }
  }
  return value as Record<string, unknown>[];
}

/** Query-string integer with bounds; a bad value is a 400 naming the parameter. */
export function queryInt(raw: string | undefined, name: string, def: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return def;
  if (!/^\d+$/.test(raw)) throw new ValidationError(`${name}: must be an integer`, { field: name });
  const n = Number(raw);
  if (n < min || n > max) throw new ValidationError(`${name}: must be between ${min} and ${max}`, { field: name });
  return n;
}

/** JSON with object keys sorted, so equal bodies hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(v as object).sort();
  return `{${keys
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
    .join(",")}}`;
}

export const CSV_CONTENT_TYPES = new Set(["text/csv", "application/csv", "text/plain", "application/octet-stream"]);

/** The media type of a Content-Type header, lowercased, without parameters. */
export function contentType(header: string | undefined): string {
  return (header ?? "").split(";")[0].trim().toLowerCase();
}
