// @millrace/artifacts: durable storage shared by trainer and predictor —
// datasets and model versions (metadata in Postgres, bytes in JetStream
// Object Store).
export { DatasetStore } from "./datasets";
export type { DatasetInfo } from "./datasets";
export { Registry, parseModelRef } from "./registry";
export type { NewVersion, ResolvedModel } from "./registry";
export { readObject, writeObject } from "./objects";
