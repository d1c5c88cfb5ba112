// Contract shared by all pipeline nodes. A node validates against a schema
// (no data), fits state on training rows, and applies that state to any frame:
// training/test rows during training ('fit' mode) or raw request rows ('predict').

import type { AbortLike } from "../errors";
import type { ColumnType, DataFrame } from "../frame";

export type Task = "classification" | "regression";
export type Label = number | string | boolean;

/** 'fit': rows seen while training (drops allowed, data problems are DataError).
 *  'predict': request rows (no drops, problems are RowValidationError; absent columns are skipped). */
export type ApplyMode = "fit" | "predict";

export interface FitContext {
  target: string;
  task: Task;
  /** Sorted class labels (classification). */
  classes: Label[];
  seed: number;
  signal?: AbortLike;
  /** Index of the node in the pipeline, for messages. */
  index: number;
}

export interface ApplyContext {
  mode: ApplyMode;
  /** Maps a frame column back to the raw input column it came from (for row errors). */
  sourceOf(column: string): string;
}

/** Schema tracked during validation. Wildcards stand for columns whose names depend on data (one-hot). */
export interface SchemaState {
  columns: Map<string, ColumnType>;
  /** prefix → type of the generated columns, e.g. 'color=' → integer. */
  wildcards: Map<string, ColumnType>;
  target: string;
  /** null when it depends on the data (integer target without explicit task). */
  task: Task | null;
}

export interface FittedState {
  /** Columns this step reads. */
  columns: string[];
  /** New columns → the column they were derived from (for lineage back to raw inputs). */
  derived?: Record<string, string>;
  [key: string]: unknown;
}

export interface NodeImpl<P = Record<string, unknown>, S extends FittedState = FittedState> {
  /** Checks params against the schema and updates it; throws PipelineValidationError. `at` is e.g. 'pipeline[2].input'. */
  validate(params: P, schema: SchemaState, at: string): void;
  fit(frame: DataFrame, params: P, ctx: FitContext): S | Promise<S>;
  apply(frame: DataFrame, state: S, ctx: ApplyContext): DataFrame;
  /** Short human summary of the fitted state (for progress messages and runNode). */
  describe?(state: S): string;
}
