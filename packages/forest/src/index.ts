export { DecisionTreeClassifier, DecisionTreeRegressor } from './tree';
export { RandomForestClassifier, RandomForestRegressor } from './forest';
export { loadModel, type AnyForestModel } from './load';
export { treeShap, expectedValue, type ShapRow, type TreeShapOptions } from './shap';
export { FlatTree } from './nodes';
export {
  ForestError,
  ForestInputError,
  ForestParamError,
  ForestNotFittedError,
  ForestAbortError,
  ForestFormatError,
  ForestWorkerError,
} from './errors';
export type {
  MaxFeatures,
  TreeParams,
  ClassifierTreeParams,
  RegressorTreeParams,
  ForestExtraParams,
  DecisionTreeClassifierParams,
  DecisionTreeRegressorParams,
  RandomForestClassifierParams,
  RandomForestRegressorParams,
  FitOptions,
} from './params';
export type { FeatureMatrix, Targets } from './input';
export type { ModelJSON, TreeJSON } from './serialize';
export type { ModelKind } from './ensemble';
