// node_type → implementation for the preprocessing nodes (source, split and
// model nodes are handled by the pipeline runner itself).

import { encodeNode } from "./encode";
import { imputeNode } from "./impute";
import { scaleNode } from "./scale";
import { selectNode } from "./select";
import { transformNode } from "./transform";
import type { NodeImpl } from "./types";

export const PREPROCESSING_NODES: Record<string, NodeImpl<any, any>> = {
  missing_values: imputeNode,
  encode: encodeNode,
  transform: transformNode,
  scale: scaleNode,
  select_features: selectNode,
};
