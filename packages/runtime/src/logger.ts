import pino, { type Logger } from "pino";

export type { Logger };

// Paths that may carry credentials. pino replaces them before serialising.
const REDACT = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  "token",
  "*.token",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "jwt",
  "*.jwt",
  "JWT_SECRET",
  "*.JWT_SECRET",
  "DATABASE_URL",
  "*.DATABASE_URL",
  "NATS_PASSWORD",
  "*.NATS_PASSWORD",
  "GRPC_SERVICE_TOKEN",
  "*.GRPC_SERVICE_TOKEN",
];

/** Removes the password from a connection URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):([^@]+)@/, "//$1:***@");
  }
}

export function createLogger(service: string, level = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
