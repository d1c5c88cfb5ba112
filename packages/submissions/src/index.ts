// Recording submitted tasks in Postgres: the PENDING row holding the job (the
// record of truth the reconciler republishes from) and Idempotency-Key
// bindings. Used by the gateway for HTTP submits (no hop through the status
// service before the 202) and by the status service for CreateTask and
// workflow children. The projection of events into the same rows stays in the
// status service.
export { Submissions, type Recorded, type Idempotency, type SubmissionsOptions } from "./submissions";
export { insertPending, type Pending } from "./pending";
