import type { LoadedModel } from "@millrace/ml";

/**
 * Loaded models, least recently used first out, bounded by artifact bytes so
 * a few large forests cannot exhaust the heap.
 */
export class ModelCache {
  private readonly entries = new Map<string, LoadedModel>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): LoadedModel | undefined {
    const m = this.entries.get(key);
    if (m) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.entries.delete(key);
      this.entries.set(key, m);
      this.hits += 1;
    } else {
      this.misses += 1;
    }
    return m;
  }

  set(key: string, model: LoadedModel): void {
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, model);
    this.bytes += model.bytes;
    for (const [k, m] of this.entries) {
      if (this.bytes <= this.maxBytes || this.entries.size <= 1) break;
      this.entries.delete(k);
      this.bytes -= m.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
}
