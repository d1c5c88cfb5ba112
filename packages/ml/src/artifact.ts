// Model artifact container: "MLRC" magic, format version, then a gzip'd
// payload of JSON (the fitted pipeline) followed by the raw bytes of every
// typed array it references, each 8-byte aligned. Typed arrays round-trip
// bit-exactly, so a loaded model predicts exactly what the trained one did.

import { gunzipSync, gzipSync } from "node:zlib";
import { ArtifactError } from "./errors";

const MAGIC = [0x4d, 0x4c, 0x52, 0x43]; // "MLRC"
export const ARTIFACT_VERSION = 1;
const HEADER = 8;

type Typed = Float64Array | Float32Array | Int32Array | Uint8Array;
const DTYPES: Record<string, { new (b: ArrayBuffer, o: number, n: number): Typed; BYTES_PER_ELEMENT: number }> = {
  f64: Float64Array,
  f32: Float32Array,
  i32: Int32Array,
  u8: Uint8Array,
};

function dtypeOf(v: unknown): string | null {
  if (v instanceof Float64Array) return "f64";
  if (v instanceof Float32Array) return "f32";
  if (v instanceof Int32Array) return "i32";
  if (v instanceof Uint8Array) return "u8";
  return null;
}

export function encodeArtifact(body: unknown): Uint8Array {
  const blobs: Typed[] = [];
  let offset = 0;
  const json = JSON.stringify(body, (_key, value) => {
    const dt = dtypeOf(value);
    if (!dt) return value;
    const t = value as Typed;
    const ref = { $typed: dt, offset, length: t.length };
    blobs.push(t);
    offset += Math.ceil(t.byteLength / 8) * 8;
    return ref;
  });
  const jsonBytes = new TextEncoder().encode(json);
  const jsonPadded = Math.ceil((4 + jsonBytes.length) / 8) * 8;
  const payload = new Uint8Array(jsonPadded + offset);
  new DataView(payload.buffer).setUint32(0, jsonBytes.length, true);
  payload.set(jsonBytes, 4);
  let o = jsonPadded;
  for (const b of blobs) {
    payload.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), o);
    o += Math.ceil(b.byteLength / 8) * 8;
  }
  const zipped = gzipSync(payload, { level: 6 });
  const out = new Uint8Array(HEADER + zipped.length);
  out.set(MAGIC, 0);
  out[4] = ARTIFACT_VERSION;
  out[5] = 1; // flags: bit 0 = gzip
  out.set(zipped, HEADER);
  return out;
}

export function decodeArtifact<T = unknown>(bytes: Uint8Array): T {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new ArtifactError("not a Millrace model artifact (bad magic)");
  }
  if (bytes[4] !== ARTIFACT_VERSION) throw new ArtifactError(`unsupported artifact version ${bytes[4]} (this build reads ${ARTIFACT_VERSION})`);
  let payload: Uint8Array;
  try {
    payload = bytes[5] & 1 ? gunzipSync(bytes.subarray(HEADER)) : bytes.subarray(HEADER);
  } catch (err) {
    throw new ArtifactError("artifact payload is corrupt", { cause: err });
  }
  if (payload.length < 4) throw new ArtifactError("artifact payload is truncated");
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const jsonLen = view.getUint32(0, true);
  if (4 + jsonLen > payload.length) throw new ArtifactError("artifact payload is truncated");
  const blobStart = Math.ceil((4 + jsonLen) / 8) * 8;
  // One aligned copy of the blob region; typed arrays are views into it.
  const blobs = new ArrayBuffer(Math.max(0, payload.length - blobStart));
  new Uint8Array(blobs).set(payload.subarray(blobStart));
  const text = new TextDecoder().decode(payload.subarray(4, 4 + jsonLen));
  try {
    return JSON.parse(text, (_key, value) => {
      if (value && typeof value === "object" && typeof value.$typed === "string") {
        const C = DTYPES[value.$typed];
        if (!C || value.offset + value.length * C.BYTES_PER_ELEMENT > blobs.byteLength) throw new ArtifactError("artifact references a missing array");
        return new C(blobs, value.offset, value.length);
      }
      return value;
    }) as T;
  } catch (err) {
    if (err instanceof ArtifactError) throw err;
    throw new ArtifactError("artifact JSON is corrupt", { cause: err });
  }
}
