/**
 * Random forests: bagged trees (bootstrap rows, maxFeatures random features
 * per split), outputs averaged over trees as sklearn does (mean of the trees'
 * class distributions, mean of the trees' leaf means).
 */
import { ClassifierModel, RegressorModel } from './ensemble';
import { resolveParams, type RandomForestClassifierParams, type RandomForestRegressorParams } from './params';
import { decodeModel, encodeModel, type ModelJSON } from './serialize';

export class RandomForestClassifier extends ClassifierModel {
  readonly kind = 'RandomForestClassifier' as const;

  constructor(params: RandomForestClassifierParams = {}) {
    super(resolveParams('classification', true, params));
  }

  /** Out-of-bag accuracy (oobScore: true), over rows that were out of bag for at least one tree. */
  get oobScore(): number | null {
    return this.fitted().oobScore;
  }

  toJSON(): ModelJSON {
    return encodeModel(this.kind, this.params, this.fitted());
  }

  static fromJSON(json: ModelJSON | string): RandomForestClassifier {
    const d = decodeModel(json, 'RandomForestClassifier');
    const m = new RandomForestClassifier();
    Object.assign(m, { params: d.params, state: d.state });
    return m;
  }
}

export class RandomForestRegressor extends RegressorModel {
  readonly kind = 'RandomForestRegressor' as const;

  constructor(params: RandomForestRegressorParams = {}) {
    super(resolveParams('regression', true, params));
  }

  /** Out-of-bag R² (oobScore: true). */
  get oobScore(): number | null {
    return this.fitted().oobScore;
  }

  toJSON(): ModelJSON {
    return encodeModel(this.kind, this.params, this.fitted());
  }

  static fromJSON(json: ModelJSON | string): RandomForestRegressor {
    const d = decodeModel(json, 'RandomForestRegressor');
    const m = new RandomForestRegressor();
    Object.assign(m, { params: d.params, state: d.state });
    return m;
  }
}
