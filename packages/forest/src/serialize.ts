/**
 * JSON form of a fitted model, loadable by another process.
 *
 * Typed arrays are stored as base64 of their little-endian bytes. To keep it
 * small we store only what prediction and TreeSHAP read: per node the split
 * feature (-1 = leaf) and cover; per internal node the threshold and right
 * child (the left child is always node + 1, see builder.ts); per leaf its
 * values. Internal-node values are rebuilt on load as cover-weighted means.
 */
import { ForestFormatError } from './errors';
import type { FittedState, ModelKind } from './ensemble';
import { FlatTree } from './nodes';
import type { ResolvedParams } from './params';

export const FORMAT = 'millrace-forest';
export const FORMAT_VERSION = 1;

export interface TreeJSON {
  nNodes: number;
  feature: string;
  cover: string;
  threshold: string;
  right: string;
  leafValue: string;
}

export interface ModelJSON {
  format: typeof FORMAT;
  version: number;
  kind: ModelKind;
  params: ResolvedParams;
  nFeatures: number;
  nOutputs: number;
  seed: number;
  oobScore: number | null;
  featureImportances: number[];
  trees: TreeJSON[];
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toBase64(a: Int32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function fromBase64<T extends Int32Array | Float64Array>(
  s: unknown,
  Ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number },
  expected: number,
  what: string,
): T {
  if (typeof s !== 'string') throw new ForestFormatError(`${what} is not a base64 string`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== expected * Ctor.BYTES_PER_ELEMENT) {
    throw new ForestFormatError(`${what} holds ${bytes.length} bytes, expected ${expected * Ctor.BYTES_PER_ELEMENT}`);
  }
  // Copy into a fresh, aligned buffer (Buffer's pool offsets are not 8-byte aligned).
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return new Ctor(ab);
}

export function encodeTree(t: FlatTree): TreeJSON {
  const K = t.nOutputs;
  let internal = 0;
  for (let i = 0; i < t.nNodes; i++) if (t.feature[i] >= 0) internal++;
  const leaves = t.nNodes - internal;
  const threshold = new Float64Array(internal);
  const right = new Int32Array(internal);
  const leafValue = new Float64Array(leaves * K);
  let a = 0, b = 0;
  for (let i = 0; i < t.nNodes; i++) {
    if (t.feature[i] >= 0) {
      if (t.left[i] !== i + 1) throw new ForestFormatError('tree is not in preorder (left child must be node + 1)');
      threshold[a] = t.threshold[i];
      right[a++] = t.right[i];
    } else {
      for (let k = 0; k < K; k++) leafValue[b * K + k] = t.value[i * K + k];
      b++;
    }
  }
  return {
    nNodes: t.nNodes,
    feature: toBase64(t.feature),
    cover: toBase64(t.cover),
    threshold: toBase64(threshold),
    right: toBase64(right),
    leafValue: toBase64(leafValue),
  };
}

export function decodeTree(j: TreeJSON, K: number, nFeatures: number, where: string): FlatTree {
  const n = j?.nNodes;
  if (!Number.isInteger(n) || n < 1) throw new ForestFormatError(`${where}: bad nNodes`);
  const feature = fromBase64(j.feature, Int32Array, n, `${where}.feature`);
  const cover = fromBase64(j.cover, Float64Array, n, `${where}.cover`);
  let internal = 0;
  for (let i = 0; i < n; i++) {
    const f = feature[i];
    if (f >= nFeatures || f < -1) throw new ForestFormatError(`${where}: node ${i} splits on feature ${f}`);
    if (f >= 0) internal++;
  }
  if (internal * 2 + 1 !== n) throw new ForestFormatError(`${where}: not a full binary tree`);
  const th = fromBase64(j.threshold, Float64Array, internal, `${where}.threshold`);
  const rt = fromBase64(j.right, Int32Array, internal, `${where}.right`);
  const lv = fromBase64(j.leafValue, Float64Array, (n - internal) * K, `${where}.leafValue`);
  const threshold = new Float64Array(n);
  const left = new Int32Array(n).fill(-1);
  const right = new Int32Array(n).fill(-1);
  const value = new Float64Array(n * K);
  let a = 0, b = 0;
  for (let i = 0; i < n; i++) {
    if (feature[i] >= 0) {
      const r = rt[a];
      // Children after the parent: guarantees traversal terminates.
      if (!(r > i + 1 && r < n) || i + 1 >= n) throw new ForestFormatError(`${where}: node ${i} has bad children`);
      threshold[i] = th[a++];
      left[i] = i + 1;
      right[i] = r;
    } else {
      for (let k = 0; k < K; k++) value[i * K + k] = lv[b * K + k];
      b++;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    if (feature[i] < 0) continue;
    const l = left[i], r = right[i], wl = cover[l], wr = cover[r], w = wl + wr;
    for (let k = 0; k < K; k++) value[i * K + k] = (wl * value[l * K + k] + wr * value[r * K + k]) / w;
  }
  return new FlatTree(n, K, feature, threshold, left, right, value, cover);
}

export function encodeModel(kind: ModelKind, params: ResolvedParams, st: FittedState): ModelJSON {
  if (!littleEndian) throw new ForestFormatError('serialisation assumes a little-endian platform');
  return {
    format: FORMAT,
    version: FORMAT_VERSION,
    kind,
    params: { ...params },
    nFeatures: st.nFeatures,
    nOutputs: st.nOutputs,
    seed: st.seed,
    oobScore: st.oobScore,
    featureImportances: Array.from(st.featureImportances),
    trees: st.trees.map(encodeTree),
  };
}

export function decodeModel(
  input: ModelJSON | string,
  expectedKind?: ModelKind,
): { kind: ModelKind; params: ResolvedParams; state: FittedState } {
  if (!littleEndian) throw new ForestFormatError('serialisation assumes a little-endian platform');
  let j: ModelJSON;
  try {
    j = typeof input === 'string' ? (JSON.parse(input) as ModelJSON) : input;
  } catch (e) {
    throw new ForestFormatError('model JSON does not parse', { cause: e });
  }
  if (j == null || typeof j !== 'object' || j.format !== FORMAT) {
    throw new ForestFormatError(`not a ${FORMAT} model`);
  }
  if (j.version !== FORMAT_VERSION) {
    throw new ForestFormatError(`model format version ${j.version}; this build reads ${FORMAT_VERSION}`);
  }
  if (expectedKind && j.kind !== expectedKind) {
    throw new ForestFormatError(`model is a ${j.kind}, not a ${expectedKind}`);
  }
  const { nFeatures, nOutputs } = j;
  if (!Number.isInteger(nFeatures) || nFeatures < 1 || !Number.isInteger(nOutputs) || nOutputs < 1) {
    throw new ForestFormatError('bad nFeatures / nOutputs');
  }
  if (!Array.isArray(j.trees) || j.trees.length === 0) throw new ForestFormatError('model has no trees');
  const trees = j.trees.map((t, i) => decodeTree(t, nOutputs, nFeatures, `trees[${i}]`));
  const fi = Float64Array.from(j.featureImportances ?? new Array(nFeatures).fill(0));
  if (fi.length !== nFeatures) throw new ForestFormatError('featureImportances length mismatch');
  return {
    kind: j.kind,
    params: j.params,
    state: { trees, nFeatures, nOutputs, seed: j.seed, featureImportances: fi, oobScore: j.oobScore ?? null },
  };
}
