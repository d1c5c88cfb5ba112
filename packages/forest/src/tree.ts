/**
 * Single CART trees. A DecisionTree* is the forest machinery with one tree,
 * every row once (no bootstrap) and, by default, every feature per split.
 */
import { ClassifierModel, RegressorModel } from './ensemble';
import type { FlatTree } from './nodes';
import { resolveParams, type DecisionTreeClassifierParams, type DecisionTreeRegressorParams } from './params';
import { decodeModel, encodeModel, type ModelJSON } from './serialize';

export class DecisionTreeClassifier extends ClassifierModel {
  readonly kind = 'DecisionTreeClassifier' as const;

  constructor(params: DecisionTreeClassifierParams = {}) {
    super(resolveParams('classification', false, params));
  }

  get tree(): FlatTree {
    return this.trees[0];
  }

  toJSON(): ModelJSON {
    return encodeModel(this.kind, this.params, this.fitted());
  }

  static fromJSON(json: ModelJSON | string): DecisionTreeClassifier {
    const d = decodeModel(json, 'DecisionTreeClassifier');
    const m = new DecisionTreeClassifier();
    Object.assign(m, { params: d.params, state: d.state });
    return m;
  }
}

export class DecisionTreeRegressor extends RegressorModel {
  readonly kind = 'DecisionTreeRegressor' as const;

  constructor(params: DecisionTreeRegressorParams = {}) {
    super(resolveParams('regression', false, params));
  }

  get tree(): FlatTree {
    return this.trees[0];
  }

  toJSON(): ModelJSON {
    return encodeModel(this.kind, this.params, this.fitted());
  }

  static fromJSON(json: ModelJSON | string): DecisionTreeRegressor {
    const d = decodeModel(json, 'DecisionTreeRegressor');
    const m = new DecisionTreeRegressor();
    Object.assign(m, { params: d.params, state: d.state });
    return m;
  }
}
