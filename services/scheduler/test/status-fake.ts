// A small StatusService for tests, served over real gRPC on an ephemeral port.
// It stands in for the status service (another process, our own boundary):
// it records every CreateTask call and answers GetTask from what it holds.
import { StatusServiceService, Task, TaskState, type CreateTaskRequest, type StatusServiceServer } from "@millrace/contracts";
import { DependencyUnavailableError, GoneError, NotFoundError, grpc, startGrpcServer, stopGrpcServer, unary } from "@millrace/runtime";

export interface StatusFake {
  addr: string;
  /** Every CreateTask request, in arrival order. */
  creates: CreateTaskRequest[];
  tasks: Map<string, Task>;
  /** While set, CreateTask answers UNAVAILABLE. */
  failCreates: boolean;
  /** Task ids GetTask answers 410 Gone for (results expired). */
  expired: Set<string>;
  /** CreateTask calls per task id. */
  createCounts(): Map<string, number>;
  finish(taskId: string, patch: Partial<Task>): void;
  close(): Promise<void>;
}

const unimplemented = (_call: unknown, cb: (err: Partial<grpc.StatusObject>) => void) => cb({ code: grpc.status.UNIMPLEMENTED, details: "not in the fake" });

export async function startStatusFake(): Promise<StatusFake> {
  const fake: StatusFake = {
    addr: "",
    creates: [],
    tasks: new Map(),
    failCreates: false,
    expired: new Set(),
    createCounts() {
      const m = new Map<string, number>();
      for (const c of fake.creates) m.set(c.job!.taskId, (m.get(c.job!.taskId) ?? 0) + 1);
      return m;
    },
    finish(taskId, patch) {
      const t = fake.tasks.get(taskId);
      if (!t) throw new Error(`no task ${taskId}`);
      fake.tasks.set(taskId, { ...t, ...patch });
    },
    close: async () => undefined,
  };
  const impl: StatusServiceServer = {
    createTask: unary(async (req) => {
      if (fake.failCreates) throw new DependencyUnavailableError("status store is down");
      fake.creates.push(req);
      const job = req.job!;
      const existing = fake.tasks.get(job.taskId);
      if (existing) return { task: existing, existing: true, conflict: false };
      const task = Task.fromPartial({ taskId: job.taskId, tenant: job.tenant, kind: job.kind, queue: job.queue, name: job.name, state: TaskState.PENDING, createdAtMs: job.createdAtMs });
      fake.tasks.set(job.taskId, task);
      return { task, existing: false, conflict: false };
    }),
    getTask: unary(async (req) => {
      if (fake.expired.has(req.taskId)) throw new GoneError(`task ${req.taskId} has expired`);
      const t = fake.tasks.get(req.taskId);
      if (!t) throw new NotFoundError(`task ${req.taskId} not found`);
      return t;
    }),
    getTasks: unimplemented,
    listTasks: unimplemented,
    countTasks: unimplemented,
    watchTask: (call) => call.destroy(new Error("not in the fake")),
    cancelTask: unimplemented,
    retryTask: unimplemented,
    purgeExpired: unimplemented,
    ping: unary(async () => ({ service: "status-fake" })),
  };
  const server = new grpc.Server();
  server.addService(StatusServiceService, impl);
  const port = await startGrpcServer(server, "127.0.0.1:0");
  fake.addr = `127.0.0.1:${port}`;
  fake.close = () => stopGrpcServer(server, 1_000);
  return fake;
}
