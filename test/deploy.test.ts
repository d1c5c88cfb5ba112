// Deployment files against the code they deploy. No Docker engine, Kubernetes
// cluster or helm binary is needed: the static part parses docker-compose.yml,
// the chart's values and templates and nats-permissions.conf and checks them
// against the services' zod config schemas and the JetStream topology (so a
// renamed env key, consumer or subject breaks this test). The integration part
// runs the five services on a real nats-server that enforces
// deploy/k8s/nats-permissions.conf, with the topology created by
// deploy/provision-topology.ts, and fails on any permissions violation.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { JOB_KINDS, QUEUES, Topology, z } from "@millrace/runtime";
import { waitFor } from "@millrace/testkit";
import { linesCsv as csv } from "./harness";
import { provisionConfigSchema, topologyStreams } from "../deploy/provision-topology";
import { gatewayConfigSchema } from "../services/gateway/src/main";
import { configSchema as predictorConfigSchema } from "../services/predictor/src/main";
import { configSchema as schedulerConfigSchema } from "../services/scheduler/src/main";
import { configSchema as statusConfigSchema } from "../services/status/src/main";
import { ORCHESTRATED_KINDS } from "../services/status/src/orchestrator";
import { configSchema as trainerConfigSchema } from "../services/trainer/src/main";
import { freePort, startStack, taskIn, type ServiceName, type Stack } from "./harness";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const read = (p: string) => readFileSync(join(root, p), "utf8");
const SERVICES = ["gateway", "status", "predictor", "trainer", "scheduler"] as const;
type Service = (typeof SERVICES)[number];

const schemas: Record<Service, z.ZodTypeAny> = {
  gateway: gatewayConfigSchema,
  status: statusConfigSchema,
  predictor: predictorConfigSchema,
  trainer: trainerConfigSchema,
  scheduler: schedulerConfigSchema,
};

/** The env keys a schema reads (through .superRefine/.transform wrappers). */
function schemaKeys(schema: z.ZodTypeAny): Set<string> {
  let s: z.ZodTypeAny = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  if (!(s instanceof z.ZodObject)) throw new Error("config schema is not an object schema");
  return new Set(Object.keys(s.shape));
}

const compose = YAML.parse(read("docker-compose.yml"), { merge: true });
const values = YAML.parse(read("deploy/k8s/millrace/values.yaml"));
const chartDir = "deploy/k8s/millrace/templates";
const templates = Object.fromEntries(readdirSync(join(root, chartDir)).map((f) => [f, read(`${chartDir}/${f}`)]));
const natsConf = read("deploy/k8s/nats-permissions.conf");

/** `${VAR:-default}` as compose substitutes it with VAR unset. */
const composeDefaults = (v: string) => v.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");

/** The kinds and queues a worker serves with this env (schema defaults apply). */
function served(service: "trainer" | "predictor", env: Record<string, string>): { kinds: string[]; queues: string[] } {
  const c = schemas[service].parse(env) as Record<string, string[]>;
  return service === "trainer" ? { kinds: c.TRAINER_KINDS, queues: c.TRAINER_QUEUES } : { kinds: c.PREDICTOR_KINDS, queues: c.PREDICTOR_QUEUES };
}

/** One user's block of nats-permissions.conf. */
function natsUser(user: string): string {
  const start = natsConf.indexOf(`user: ${user}\n`);
  expect(start, `user ${user} in nats-permissions.conf`).toBeGreaterThan(0);
  const next = natsConf.indexOf("user: ", start + 6);
  return natsConf.slice(start, next < 0 ? undefined : next);
}
const fetchConsumers = (block: string, stream: string) => new Set([...block.matchAll(new RegExp(`"\\$JS\\.API\\.CONSUMER\\.MSG\\.NEXT\\.${stream}\\.([A-Za-z0-9_]+)"`, "g"))].map((m) => m[1]));
const ackConsumers = (block: string, stream: string) => new Set([...block.matchAll(new RegExp(`"\\$JS\\.ACK\\.${stream}\\.([A-Za-z0-9_]+)\\.>"`, "g"))].map((m) => m[1]));
const consumersOf = (kinds: readonly string[], queues: readonly string[], topo = new Topology()) => new Set(kinds.flatMap((k) => queues.map((q) => topo.jobConsumer(k, q))));

describe("docker-compose.yml", () => {
  it("runs nats (JetStream, monitoring, a volume), postgres 16 and the five services", () => {
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES, "nats", "postgres"].sort());
    const nats = compose.services.nats;
    const version = /^nats:(\d+)\.(\d+)/.exec(nats.image);
    expect(version, nats.image).toBeTruthy();
    expect(Number(version![1]) * 100 + Number(version![2]), "nats-server 2.10 or later (2.9.10 has CVE-2023-47090, CVE-2025-30215)").toBeGreaterThanOrEqual(210);
    expect(nats.command.join(" ")).toContain("-js -sd /data -m 8222");
    expect(nats.volumes.some((v: string) => v.endsWith(":/data"))).toBe(true);
    expect(nats.healthcheck.test.join(" ")).toContain("8222/healthz");
    expect(nats.ports ?? [], "NATS and its monitoring port stay on the compose network").toEqual([]);
    const pg = compose.services.postgres;
    expect(pg.image).toMatch(/^postgres:16/);
    expect(pg.healthcheck.test.join(" ")).toContain("pg_isready");
    expect(pg.volumes.some((v: string) => v.endsWith(":/var/lib/postgresql/data"))).toBe(true);
    expect(compose.services.gateway.ports.map(String)).toContain("${GATEWAY_PORT:-8080}:8080");
    for (const s of SERVICES) expect(compose.services[s].ports, `${s} publishes nothing`).toEqual(s === "gateway" ? expect.anything() : undefined);
  });

  it("sets only keys each service's configSchema reads, with values it accepts", () => {
    for (const s of SERVICES) {
      const svc = compose.services[s];
      expect(svc.command).toEqual([s]);
      expect(svc.build?.dockerfile ?? svc.image).toBeTruthy();
      const env: Record<string, string> = Object.fromEntries(Object.entries(svc.environment).map(([k, v]) => [k, composeDefaults(String(v))]));
      const keys = schemaKeys(schemas[s]);
      for (const k of Object.keys(env)) expect(keys.has(k), `${s}: ${k} is not a key of its configSchema`).toBe(true);
      const parsed = schemas[s].safeParse(env);
      expect(parsed.success, `${s}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      expect(env.NATS_URL).toBe("nats://nats:4222");
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/[^:]+:[^@]+@postgres:5432\/millrace$/);
      expect(env.STATUS_GRPC_ADDR).toBe("status:50051");
      expect(env.PREDICTOR_GRPC_ADDR).toBe("predictor:50052");
      expect(env.SCHEDULER_GRPC_ADDR).toBe(s === "scheduler" ? "0.0.0.0:50053" : "scheduler:50053");
      expect(Object.keys(svc.depends_on).sort()).toEqual(expect.arrayContaining(["nats", "postgres"]));
      expect(svc.depends_on.nats.condition).toBe("service_healthy");
      expect(svc.depends_on.postgres.condition).toBe("service_healthy");
      // The healthcheck probes the port the service serves health on.
      const port = s === "gateway" ? env.PORT : env.HEALTH_PORT;
      expect(svc.healthcheck.test).toEqual(["CMD", "millrace-probe", port, "/readyz"]);
      expect(Number.parseInt(svc.stop_grace_period), `${s}: time to drain`).toBeGreaterThanOrEqual(40);
    }
    expect(compose.services.status.environment.STATUS_LISTEN).toBe("0.0.0.0:50051");
    expect(compose.services.predictor.environment.PREDICTOR_LISTEN).toBe("0.0.0.0:50052");
    expect(compose.services.gateway.environment.HOST).toBe("0.0.0.0");
    expect(compose.services.gateway.environment.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:-.+\}$/);
  });
});

describe("Dockerfile and entrypoint", () => {
  const dockerfile = read("Dockerfile");
  it("builds one non-root node:20-bookworm-slim image from the lockfile", () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["millrace-entrypoint"\]$/m);
    const ignore = read(".dockerignore").split("\n");
    for (const p of ["**/node_modules", ".git", ".data", "bench/results"]) expect(ignore).toContain(p);
  });
  it("the entrypoint starts every service by name, from source with tsx", () => {
    const ep = read("deploy/docker/entrypoint.sh");
    for (const s of readdirSync(join(root, "services"))) expect(ep, s).toMatch(new RegExp(`\\b${s}\\b[^\\n]*\\)`));
    expect(ep).toContain('exec node --import tsx "services/$what/src/main.ts"');
    expect(ep).toContain("exec node --import tsx deploy/provision-topology.ts");
    expect(spawnSync("sh", ["-n", join(root, "deploy/docker/entrypoint.sh")]).status).toBe(0);
    expect(spawnSync("bash", ["-n", join(root, "deploy/docker/probe.sh")]).status).toBe(0);
  });
});

describe("Helm chart (deploy/k8s/millrace)", () => {
  it("values give each service only keys of its configSchema, as strings", () => {
    for (const s of SERVICES) {
      const env: Record<string, unknown> = values[s].env ?? {};
      const keys = schemaKeys(schemas[s]);
      for (const [k, v] of Object.entries(env)) {
        expect(keys.has(k), `${s}.env.${k} is not a key of its configSchema`).toBe(true);
        expect(typeof v, `${s}.env.${k} must be a string (Helm renders big numbers as 1e+06)`).toBe("string");
      }
      expect(schemas[s].safeParse({ ...env, JWT_SECRET: "x" }).success, s).toBe(true);
    }
  });

  it("the env the templates write is read by the services it goes to", () => {
    const helpers = templates["_helpers.tpl"];
    const block = helpers.slice(helpers.indexOf('define "millrace.configEnv"'), helpers.indexOf('define "millrace.secretEnv"'));
    const written = new Set([...block.matchAll(/^([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]));
    // Which services get each key (see the conditions in millrace.configEnv).
    const all = [...SERVICES];
    const to: Record<string, readonly Service[]> = {
      NATS_URL: all,
      LOG_LEVEL: all,
      MILLRACE_NAMESPACE: all,
      STATUS_GRPC_ADDR: all,
      PREDICTOR_GRPC_ADDR: all,
      SCHEDULER_GRPC_ADDR: all,
      PORT: ["gateway"],
      HOST: ["gateway"],
      HEALTH_PORT: ["status", "predictor", "trainer", "scheduler"],
      HEALTH_HOST: SERVICES.filter((s) => values[s].healthHttpGet),
      STATUS_LISTEN: ["status"],
      PREDICTOR_LISTEN: ["predictor"],
      JOB_ACK_WAIT_MS: ["status", "trainer", "predictor"],
    };
    expect([...written].sort()).toEqual(Object.keys(to).sort());
    for (const [k, services] of Object.entries(to)) for (const s of services) expect(schemaKeys(schemas[s]).has(k), `${s} does not read ${k}`).toBe(true);
    // Probes go over HTTP only where the health server can listen on 0.0.0.0.
    for (const s of SERVICES) if (values[s].healthHttpGet) expect(schemaKeys(schemas[s]).has("HEALTH_HOST"), `${s}.healthHttpGet needs HEALTH_HOST`).toBe(true);
    // Secret env.
    const secretBlock = helpers.slice(helpers.indexOf('define "millrace.secretEnv"'), helpers.indexOf('define "millrace.probeAction"'));
    for (const k of [...secretBlock.matchAll(/- name: ([A-Z_]+)/g)].map((m) => m[1])) expect(schemaKeys(k === "JWT_SECRET" ? gatewayConfigSchema : statusConfigSchema).has(k), k).toBe(true);
    // The topology Job's env.
    const jobEnv = [...templates["topology-job.yaml"].matchAll(/- name: ([A-Z_]+)/g)].map((m) => m[1]);
    expect(jobEnv.length).toBeGreaterThan(4);
    for (const k of jobEnv) expect(schemaKeys(provisionConfigSchema).has(k), `topology job: ${k}`).toBe(true);
  });

  it("KEDA triggers name the exact durable consumers each worker serves, on the real jobs stream", () => {
    const topo = new Topology(values.config.millraceNamespace);
    expect(values.keda.stream).toBe(topo.jobsStream);
    const every = consumersOf(JOB_KINDS, QUEUES, topo);
    for (const s of ["trainer", "predictor"] as const) {
      const { kinds, queues } = served(s, values[s].env);
      const want = consumersOf(kinds, queues, topo);
      const got: string[] = values[s].keda.consumers;
      expect(new Set(got), `${s}.keda.consumers`).toEqual(want);
      expect(got.length).toBe(want.size);
      for (const c of got) expect(every.has(c), `${c} is a consumer ensureTopology creates`).toBe(true);
    }
    // Every job kind is consumed by something this chart deploys.
    const covered = new Set([...served("trainer", values.trainer.env).kinds, ...served("predictor", values.predictor.env).kinds, ...ORCHESTRATED_KINDS]);
    for (const k of JOB_KINDS) expect(covered.has(k), `nothing consumes ${k} jobs`).toBe(true);
    expect(templates["_helpers.tpl"]).toContain("type: nats-jetstream");
    expect(templates["_helpers.tpl"]).toContain("consumer: {{ $consumer | quote }}");
  });

  it("keeps its operational promises", () => {
    expect(values.scheduler.replicas).toBe(2);
    expect(values.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(40);
    for (const s of SERVICES) {
      expect(values[s].resources.requests, s).toBeTruthy();
      expect(values[s].resources.limits, s).toBeTruthy();
      expect(values[s].pdb.enabled, s).toBe(true);
    }
    expect(values.gateway.autoscaling.enabled).toBe(true);
    expect(values.predictor.autoscaling.enabled).toBe(true);
    expect(values.topology.replicas).toBe(3);
    const h = templates["_helpers.tpl"];
    expect(h).toMatch(/livenessProbe:\n\s+\{\{- include "millrace.probeAction" \(dict [^)]*"path" "\/healthz"\)/);
    expect(h).toMatch(/readinessProbe:\n\s+\{\{- include "millrace.probeAction" \(dict [^)]*"path" "\/readyz"\)/);
    expect(templates["networkpolicy.yaml"]).toMatch(/- port: 8222/);
  });

  it("templates only use values that exist, helpers that are defined, and close every block", () => {
    const defined = new Set([...templates["_helpers.tpl"].matchAll(/define "([^"]+)"/g)].map((m) => m[1]));
    // Free-form maps whose keys are the user's.
    const freeForm = new Set(["env", "podLabels", "annotations", "resources"]);
    const has = (path: string[]) => {
      let v: unknown = values;
      for (const p of path) {
        if (v && typeof v === "object" && p in (v as object)) v = (v as Record<string, unknown>)[p];
        else return false;
      }
      return true;
    };
    for (const [file, src] of Object.entries(templates)) {
      for (const m of src.matchAll(/include "([^"]+)"/g)) expect(defined.has(m[1]), `${file}: include "${m[1]}"`).toBe(true);
      for (const m of src.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        const path = m[1].slice(1).split(".");
        const cut = path.findIndex((p) => freeForm.has(p));
        const checked = cut >= 0 ? path.slice(0, cut + 1) : path;
        expect(has(checked), `${file}: .Values.${path.join(".")} is not in values.yaml`).toBe(true);
      }
      const actions = [...src.matchAll(/\{\{-?\s*(if|range|with|define|else|end)\b/g)].map((m) => m[1]);
      const opened = actions.filter((a) => ["if", "range", "with", "define"].includes(a)).length;
      expect(actions.filter((a) => a === "end").length, `${file}: {{ end }} count`).toBe(opened);
    }
  });
});

describe("nats-permissions.conf", () => {
  it("grants each worker exactly the consumers it serves, and no service the admin APIs", () => {
    for (const s of ["trainer", "predictor"] as const) {
      const block = natsUser(s);
      const want = new Set(values[s].keda.consumers as string[]);
      expect(fetchConsumers(block, "MILLRACE_JOBS"), s).toEqual(want);
      expect(ackConsumers(block, "MILLRACE_JOBS"), s).toEqual(want);
      for (const { kinds } of [served(s, values[s].env)]) for (const k of kinds) expect(block, `${s} doorbell on jobs.${k}.*`).toContain(`"jobs.${k}.*"`);
    }
    const status = natsUser("status");
    expect(fetchConsumers(status, "MILLRACE_JOBS")).toEqual(consumersOf(ORCHESTRATED_KINDS, QUEUES));
    expect(ackConsumers(status, "MILLRACE_JOBS")).toEqual(consumersOf(ORCHESTRATED_KINDS, QUEUES));
    expect(fetchConsumers(status, "MILLRACE_EVENTS")).toEqual(new Set([new Topology().projectorConsumer]));
    for (const u of ["gateway", "scheduler"]) expect(fetchConsumers(natsUser(u), "MILLRACE_JOBS").size, u).toBe(0);
    for (const u of [...SERVICES, "provisioner"]) {
      const block = natsUser(u);
      expect(block, u).not.toMatch(/"(\$JS\.>|\$JS\.API\.>|>|\$JS\.API\.STREAM\.>|\$JS\.API\.CONSUMER\.>)"/);
      expect(block, u).not.toMatch(/STREAM\.(DELETE|UPDATE)|CONSUMER\.DELETE\.MILLRACE_/);
      if (u !== "provisioner") expect(block, `${u} creates no stream or durable`).not.toMatch(/STREAM\.CREATE|DURABLE\.CREATE|CONSUMER\.CREATE\.MILLRACE_/);
    }
    // The provisioner may create every stream the topology has.
    for (const s of topologyStreams(new Topology())) expect(natsUser("provisioner")).toContain(`"$JS.API.STREAM.CREATE.${s}"`);
  });
});

// ---------------------------------------------------------------------------
// Integration: the permissions file on a real nats-server.

const hasNatsServer = spawnSync("nats-server", ["--version"]).status === 0;

async function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("exit", (code) => res({ code, out }));
  });
}

describe.skipIf(!hasNatsServer)("nats-permissions.conf on a real nats-server", () => {
  const users = [...SERVICES, "provisioner"] as const;
  const password = (u: string) => `pw-${u}-${process.pid}`;
  const passwordEnv = Object.fromEntries(users.map((u) => [`MILLRACE_${u.toUpperCase()}_NATS_PASSWORD`, password(u)]));
  let server: ChildProcess | undefined;
  let url = "";
  let log = "";
  let stack: Stack | undefined;
  const provisionerEnv = () => ({ NATS_URL: url, NATS_USER: "provisioner", NATS_PASSWORD: password("provisioner"), MILLRACE_NAMESPACE: "", JOB_ACK_WAIT_MS: "30000" });
  const violations = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => /Violation/i.test(l)) : []);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "millrace-perms-"));
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    log = join(dir, "nats.log");
    copyFileSync(join(root, "deploy/k8s/nats-permissions.conf"), join(dir, "nats-permissions.conf"));
    writeFileSync(join(dir, "nats.conf"), [`listen: 127.0.0.1:${port}`, `jetstream { store_dir: "${join(dir, "js")}" }`, `log_file: "${log}"`, "include ./nats-permissions.conf", ""].join("\n"));
    server = spawn("nats-server", ["-c", join(dir, "nats.conf")], { env: { ...process.env, ...passwordEnv }, stdio: "ignore" });
    await waitFor(async () => (await connect({ servers: url, user: "provisioner", pass: password("provisioner") }).then((nc) => nc.close().then(() => true)).catch(() => false)), { timeoutMs: 15_000, what: "nats-server with nats-permissions.conf" });
    // What the chart's pre-install Job does: the services' users cannot create the topology.
    const p = await run(process.execPath, ["--import", "tsx", "deploy/provision-topology.ts"], { ...provisionerEnv(), TOPOLOGY_REPLICAS: "1" });
    expect(p.code, p.out).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    server?.kill("SIGTERM");
  });

  it("the provisioner created the topology, and refuses a replica count it cannot have", async () => {
    const env = provisionerEnv();
    const nc0 = await connect({ servers: url, user: "provisioner", pass: password("provisioner"), inboxPrefix: "_INBOX_provisioner" });
    const jsm0 = await nc0.jetstreamManager();
    for (const s of topologyStreams(new Topology())) expect((await jsm0.streams.info(s)).config.num_replicas, s).toBe(1);
    expect((await jsm0.consumers.info("MILLRACE_JOBS", "train_default")).config.ack_wait).toBe(30_000 * 1_000_000);
    await nc0.close();
    const again = await run(process.execPath, ["--import", "tsx", "deploy/provision-topology.ts"], { ...env, TOPOLOGY_REPLICAS: "3" });
    expect(again.code, again.out).toBe(2);
    expect(again.out).toContain("KV_MILLRACE_revocations");
    // A service user cannot create it (it would have to, without the provisioner).
    const nc = await connect({ servers: url, user: "gateway", pass: password("gateway"), inboxPrefix: "_INBOX_gateway" });
    const jsm = await nc.jetstreamManager();
    await expect(jsm.streams.add({ name: "ROGUE", subjects: ["rogue.>"] })).rejects.toThrow();
    await nc.close();
  }, 60_000);

  it("the five services run every flow with their own users and no permissions violation", async () => {
    const before = violations().length; // the refused stream above
    const perService = Object.fromEntries(SERVICES.map((s) => [s, { NATS_USER: s, NATS_PASSWORD: password(s) }])) as Partial<Record<ServiceName, Record<string, string>>>;
    stack = await startStack({ natsUrl: url, env: { MILLRACE_NAMESPACE: "" }, perService });
    const T = "acme";
    const api = stack.api.bind(stack);
    const done = (id: string, states = ["SUCCESS", "FAILURE"], ms = 120_000) => taskIn(stack!, T, id, states, ms);

    // dataset upload (object store), train (consumer, events, models store), alias (models.changed)
    const up = await api("/v1/datasets?name=lines", { method: "POST", tenant: T, headers: { "content-type": "text/csv" }, body: csv(150) });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const ds = up.body.dataset_id;
    const train = await api("/v1/train", { method: "POST", tenant: T, json: { dataset_id: ds, target: "y", model: { type: "linear_regression" }, name: "lines" } });
    expect((await done(train.body.task_id)).state).toBe("SUCCESS");
    expect((await api(`/v1/tasks/${train.body.task_id}/events`, { tenant: T })).status).toBe(200);
    expect((await api("/v1/models/lines/aliases/prod", { method: "PUT", tenant: T, json: { version: 1 } })).status).toBe(200);
    // predict and explain (predictor consumers), sync predict (gRPC, models store)
    const ap = await api("/v1/predict/async", { method: "POST", tenant: T, json: { model: "lines", instances: [{ x1: 1, x2: 1, color: "red" }] } });
    expect((await done(ap.body.task_id)).state).toBe("SUCCESS");
    const ex = await api("/v1/explain/async", { method: "POST", tenant: T, json: { model: "lines", instances: [{ x1: 1, x2: 1, color: "red" }] } });
    await done(ex.body.task_id);
    const sync = await api("/v1/predict", { method: "POST", tenant: T, json: { model: "lines@prod", instances: [{ x1: 0, x2: 0, color: "red" }] } });
    expect(sync.status, JSON.stringify(sync.body)).toBe(200);
    // workflow (status's orchestrator consumer, child jobs)
    const step = { kind: "predict", payload: { model: "lines", instances: [{ x1: 1, x2: 2, color: "red" }] } };
    const wf = await api("/v1/workflows", { method: "POST", tenant: T, json: { type: "chain", steps: [step, step] } });
    expect(wf.status, JSON.stringify(wf.body)).toBe(202);
    expect((await done(wf.body.task_id)).state).toBe("SUCCESS");
    // cancel a running job (revocations KV, millrace.cancel.<id>)
    const big = await api("/v1/datasets?name=big", { method: "POST", tenant: T, headers: { "content-type": "text/csv" }, body: csv(4000) });
    const slow = await api("/v1/train", { method: "POST", tenant: T, json: { dataset_id: big.body.dataset_id, target: "y", model: { type: "random_forest", params: { n_estimators: 600, max_depth: 14 } }, name: "slow" } });
    await waitFor(async () => ["STARTED", "PROGRESS"].includes((await api(`/v1/tasks/${slow.body.task_id}`, { tenant: T })).body.state), { timeoutMs: 60_000, what: "slow training started" });
    const c = await api(`/v1/tasks/${slow.body.task_id}/cancel`, { method: "POST", tenant: T });
    expect([200, 202], JSON.stringify(c.body)).toContain(c.status);
    expect((await done(slow.body.task_id, ["REVOKED", "SUCCESS", "FAILURE"])).state).toBe("REVOKED");
    // schedules (scheduler gRPC, leader lease KV, publish)
    const sch = await api("/v1/schedules", { method: "POST", tenant: T, json: { name: "hourly", kind: "predict", payload: step.payload, interval_seconds: 3600 } });
    expect([200, 201], JSON.stringify(sch.body)).toContain(sch.status);
    const trig = await api("/v1/schedules/hourly/trigger", { method: "POST", tenant: T });
    expect([200, 202], JSON.stringify(trig.body)).toContain(trig.status);
    // worker heartbeats (workers KV), forecasting (trainer), a failing job and its manual retry
    const workers = await api("/v1/workers", { tenant: T });
    expect(workers.status).toBe(200);
    expect(workers.body.workers.length).toBeGreaterThanOrEqual(2);
    const rows = Array.from({ length: 60 }, (_, i) => ({ product_sku: "BRD-1", date: new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10), quantity: 10 + (i % 7) }));
    expect((await api("/v1/sales", { method: "POST", tenant: T, json: { rows } })).status).toBeLessThan(300);
    const f = await api("/v1/forecast/async", { method: "POST", tenant: T, json: { product_sku: "BRD-1", days: 7 } });
    expect((await done(f.body.task_id)).state).toBe("SUCCESS");
    // A model that does not exist is refused at submit; a row the model cannot read fails in the worker, and stays failed when retried.
    const unknown = await api("/v1/predict/async", { method: "POST", tenant: T, json: { model: "nope", instances: [{ x1: 1 }] } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: "NOT_FOUND", field: "model" });
    const bad = await api("/v1/predict/async", { method: "POST", tenant: T, json: { model: "lines", instances: [{ x1: "lots", x2: 1, color: "red" }] } });
    expect((await done(bad.body.task_id)).state).toBe("FAILURE");
    expect([200, 202]).toContain((await api(`/v1/tasks/${bad.body.task_id}/retry`, { method: "POST", tenant: T })).status);
    expect((await done(bad.body.task_id)).state).toBe("FAILURE");
    // an operator revokes a leaked token (deploy/revoke-token.ts as the provisioner); the gateway's watch refuses it
    const leaked = { authorization: `Bearer ${stack.token("leaked")}` };
    expect((await api("/v1/tasks", { headers: leaked })).status).toBe(200);
    const rv = await run(process.execPath, ["--import", "tsx", "deploy/revoke-token.ts", "--token", leaked.authorization.slice(7)], provisionerEnv());
    expect(rv.code, rv.out).toBe(0);
    expect(rv.out, "the token is never printed").not.toContain(leaked.authorization.slice(7));
    await waitFor(async () => (await api("/v1/tasks", { headers: leaked })).status === 401, { timeoutMs: 10_000, what: "the revoked token refused" });
    const fresh = stack.token("leaked");
    expect(fresh, "a fresh token differs from the revoked one even when signed in the same second").not.toBe(leaked.authorization.slice(7));
    expect((await api("/v1/tasks", { headers: { authorization: `Bearer ${fresh}` } })).status, "a fresh token of the same tenant").toBe(200);
    expect((await api("/readyz")).status).toBe(200);

    expect(violations().slice(before), "permission violations while the services ran").toEqual([]);
  }, 300_000);

  it("refuses what a service's user must not do", async () => {
    const as = (u: string): Promise<NatsConnection> => connect({ servers: url, user: u, pass: password(u), inboxPrefix: `_INBOX_${u}` });
    const gw = await as("gateway");
    const jsm = await gw.jetstreamManager();
    await expect(jsm.streams.delete("MILLRACE_JOBS")).rejects.toThrow();
    await expect(jsm.streams.purge("MILLRACE_EVENTS")).rejects.toThrow();
    // Nor read another service's replies.
    gw.subscribe("_INBOX_status.>");
    await gw.flush();
    await gw.close();
    const trainer = await as("trainer");
    const js = trainer.jetstream();
    // A trainer may not take predictor jobs.
    let got = 0;
    try {
      for await (const _m of js.fetch("MILLRACE_JOBS", "predict_default", { batch: 1, expires: 1_000 })) got++;
    } catch {
      /* refused */
    }
    expect(got).toBe(0);
    await trainer.close();
    // The server logged every refusal.
    await waitFor(() => {
      const lines = violations().join("\n");
      return (
        lines.includes("$JS.API.STREAM.DELETE.MILLRACE_JOBS") &&
        lines.includes("$JS.API.CONSUMER.MSG.NEXT.MILLRACE_JOBS.predict_default") &&
        /Subscription Violation.*_INBOX_status/.test(lines)
      );
    }, { timeoutMs: 5_000, what: `violations logged: ${violations().join("\n")}` });
  }, 60_000);
});
