/** Load any serialised model without knowing its kind up front. */
import { RandomForestClassifier, RandomForestRegressor } from './forest';
import { decodeModel, type ModelJSON } from './serialize';
import { DecisionTreeClassifier, DecisionTreeRegressor } from './tree';

export type AnyForestModel =
  | DecisionTreeClassifier
  | DecisionTreeRegressor
  | RandomForestClassifier
  | RandomForestRegressor;

export function loadModel(json: ModelJSON | string): AnyForestModel {
  const j: ModelJSON = typeof json === 'string' ? decodeJSONText(json) : json;
  switch (j?.kind) {
    case 'DecisionTreeClassifier':
      return DecisionTreeClassifier.fromJSON(j);
    case 'DecisionTreeRegressor':
      return DecisionTreeRegressor.fromJSON(j);
    case 'RandomForestClassifier':
      return RandomForestClassifier.fromJSON(j);
    case 'RandomForestRegressor':
      return RandomForestRegressor.fromJSON(j);
    default:
      // Let decodeModel produce the precise format error.
      decodeModel(j);
      throw new Error('unreachable');
  }
}

function decodeJSONText(s: string): ModelJSON {
  try {
    return JSON.parse(s) as ModelJSON;
  } catch {
    return decodeModel(s) as never; // throws ForestFormatError
  }
}
