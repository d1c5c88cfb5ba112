// No secrets in logs: the paths pino redacts, checked on what a logger writes.
import { describe, expect, it } from "vitest";
import { createLogger, redactUrl } from "../src/index";

function capture(): { lines: string[]; stream: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
}

describe("log redaction", () => {
  it("replaces credentials wherever a config or request object puts them", () => {
    const { lines, stream } = capture();
    const log = createLogger("test", "info", stream);
    const secrets = {
      JWT_SECRET: "jwt-secret-value-1",
      GRPC_SERVICE_TOKEN: "grpc-token-value-2",
      NATS_PASSWORD: "nats-password-value-3",
      DATABASE_URL: "postgres://u:db-password-4@h/db",
    };
    log.info({ config: secrets, ...secrets, headers: { authorization: "Bearer jwt-value-5" }, token: "token-value-6", task_id: "t-1" }, "started");
    const out = lines.join("");
    for (const v of ["jwt-secret-value-1", "grpc-token-value-2", "nats-password-value-3", "db-password-4", "jwt-value-5", "token-value-6"]) expect(out).not.toContain(v);
    expect(out).toContain("[redacted]");
    expect(JSON.parse(lines[0]).task_id).toBe("t-1");
  });

  it("keeps a URL's host but not its password", () => {
    expect(redactUrl("postgres://millrace:hunter2@db:5432/millrace")).toBe("postgres://millrace:***@db:5432/millrace");
  });
});
