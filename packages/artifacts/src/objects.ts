import type { ObjectStore } from "nats";
import { NotFoundError } from "@millrace/runtime";

/** Reads a whole object from a JetStream Object Store bucket. */
export async function readObject(os: ObjectStore, name: string): Promise<Uint8Array> {
  const res = await os.get(name);
  if (!res) throw new NotFoundError(`object ${name} not found`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.data.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
  }
  const err = await res.error;
  if (err) throw err;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export async function writeObject(os: ObjectStore, name: string, data: Uint8Array): Promise<void> {
  await os.putBlob({ name }, data);
}
