// Model type → fit / load.

import type { ModelType } from "../catalogue";
import { ArtifactError } from "../errors";
import { fitLinearRegression, LinearRegressionModel, type LinearParams } from "./linear";
import { fitLogisticRegression, LogisticRegressionModel, type LogisticParams } from "./logistic";
import { fitNeuralNetwork, NeuralNetworkModel, type NetworkParams } from "./network";
import { fitTreeModel, TreeModel, type TreeParams } from "./trees";
import type { FittedModel, ModelFitContext, TrainingSet } from "./types";

export async function fitModel(type: ModelType, data: TrainingSet, params: Record<string, unknown>, ctx: ModelFitContext): Promise<FittedModel> {
  switch (type) {
    case "linear_regression":
      return fitLinearRegression(data, params as LinearParams, ctx);
    case "logistic_regression":
      return fitLogisticRegression(data, params as LogisticParams, ctx);
    case "neural_network":
      return fitNeuralNetwork(data, params as NetworkParams, ctx);
    case "decision_tree":
    case "random_forest":
      return fitTreeModel(type, data, params as TreeParams, ctx);
  }
}

export function loadFittedModel(type: string, state: Record<string, unknown>): FittedModel {
  switch (type) {
    case "linear_regression":
      return LinearRegressionModel.load(state);
    case "logistic_regression":
      return LogisticRegressionModel.load(state);
    case "neural_network":
      return NeuralNetworkModel.load(state);
    case "decision_tree":
    case "random_forest":
      return TreeModel.load(type, state);
    default:
      throw new ArtifactError(`unknown model type '${type}' in artifact`);
  }
}
