// The one public entry of @millrace/contracts: generated protobuf messages and
// gRPC service definitions for every message that crosses a process boundary.
export * from "./gen/index";
export { encodeMessage, type Encodable } from "./encode";
