// Code generated from proto/ by `pnpm gen`. DO NOT EDIT.

export { CancelNotice, InFlightTask, TaskChangedBatch, TaskEvent, TaskEventBatch, WorkerHeartbeat } from "./millrace/v1/event";
export { ExplainJob, ForecastJob, Job, MaintenanceJob, ModelSpec, PipelineJob, PredictJob, RetryPolicy, TimeLimits, TrainAllProductsJob, TrainJob, TrainProductJob, WorkflowJob } from "./millrace/v1/job";
export { ExplainRequest, ExplainResponse, GetModelRequest, GetModelVersionRequest, InputWarning, ListModelsRequest, ListModelsResponse, ModelInfo, ModelInfo_AliasesEntry, ModelRef, ModelVersion, PredictRequest, PredictResponse, PredictorPingRequest, PredictorPingResponse, PredictorServiceClient, PredictorServiceService, RegistryServiceClient, RegistryServiceService, ResolveModelRequest, SetAliasRequest } from "./millrace/v1/predictor";
export type { PredictorServiceServer, RegistryServiceServer } from "./millrace/v1/predictor";
export { DeleteScheduleResponse, GetScheduleRequest, ListRunsRequest, ListRunsResponse, ListSchedulesRequest, ListSchedulesResponse, Schedule, ScheduleJobOptions, ScheduleRun, SchedulerPingRequest, SchedulerPingResponse, SchedulerServiceClient, SchedulerServiceService, UpsertScheduleRequest } from "./millrace/v1/scheduler";
export type { SchedulerServiceServer } from "./millrace/v1/scheduler";
export { CancelTaskRequest, CancelTaskResponse, CountTasksRequest, CountTasksResponse, CreateTaskRequest, CreateTaskResponse, GetTaskOutcome, GetTaskRequest, GetTasksRequest, GetTasksResponse, ItemError, ListTasksRequest, ListTasksResponse, PingRequest, PingResponse, PurgeExpiredRequest, PurgeExpiredResponse, RetryTaskRequest, RetryTaskResponse, StatusServiceClient, StatusServiceService, TaskCount, WatchTaskRequest } from "./millrace/v1/status";
export type { StatusServiceServer } from "./millrace/v1/status";
export { AttemptRecord, Progress, Task, TaskError, TaskState, taskStateFromJSON, taskStateToJSON } from "./millrace/v1/task";
export { Struct, ListValue, Value } from "./google/protobuf/struct";
