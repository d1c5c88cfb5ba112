// @millrace/ml public API. Everything the trainer, predictor and gateway use is
// exported here by name; modules behind it are internal.

// Backend
export { initBackend, currentBackend } from "./backend";
export type { BackendName, BackendInfo, InitBackendOptions } from "./backend";

// Errors
export {
  MlError,
  CsvFormatError,
  PipelineValidationError,
  RowValidationError,
  DataError,
  TrainingAbortedError,
  HardTimeLimitError,
  ArtifactError,
} from "./errors";
export type { AbortLike, MlErrorOptions } from "./errors";

// CSV and frames
export { CsvParser, parseCsvToFrame, parseCsvToFrameInSlices, profileCsv } from "./csv";
export type { CsvParserOptions, CsvSummary, CsvColumnSummary } from "./csv";
export { COLUMN_TYPES, schemaOf, frameFromRecords, frameHead, describeFrame } from "./frame";
export type { DataFrame, Column, ColumnSchema, ColumnType, Cell, ColumnStats } from "./frame";

// Catalogue and validation
export { NODE_TYPES, MODEL_TYPES } from "./catalogue";
export type { NodeType, NodeTypeInfo, ModelType, ModelTypeInfo, ParamSpec, ParamType } from "./catalogue";
export { validatePipeline } from "./validate";
export type { PipelineSpec, PipelineNode, PipelinePlan, PlannedNode, ModelPlan } from "./validate";

// Training
export { runPipeline, runNode, trainSpec, DEFAULT_SEED, ML_VERSION } from "./pipeline";
export type {
  RunOptions,
  PipelineProgress,
  TrainResult,
  StepSummary,
  TrainModelSpec,
  NodeRunOptions,
  NodeRunResult,
} from "./pipeline";
export type { Task, Label } from "./nodes/types";
export type { Metrics, ClassificationMetrics, RegressionMetrics, EvaluatedOn } from "./metrics";

// Training off the event loop
export { TrainingPool, runPipelineInThread } from "./training-pool";
export type { ThreadRunOptions, TrainingPoolOptions } from "./training-pool";

// Serving
export { loadModel } from "./predictor";
export { inputWarnings, MAX_UNKNOWN_REPORTED } from "./input-check";
export type { InputWarning, InputWarningCode } from "./input-check";
export { forEachTimeSlice } from "./time-slices";
export type { LoadedModel, PredictOutput, RowExplanation, ModelInfo, ExplainOptions } from "./predictor";
export type { OutputSpace } from "./models/types";
