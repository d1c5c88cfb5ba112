// A Map that holds at most `max` entries and drops the oldest first. The
// gateway's verified-token and known-model caches, the status service's
// finished-row cache and the predictor's resolved references all need the
// same thing: a cache whose size an outside caller cannot grow without end.
// A JS Map keeps insertion order, so its first key is the oldest entry; with
// `touch`, a hit is re-inserted and the order becomes least recently used.

export interface BoundedMapOptions {
  /** Most entries held; 0 holds none (the cache is off). */
  max: number;
  /** Re-insert on a hit, so eviction drops the least recently used entry rather than the oldest set. */
  touch?: boolean;
}

export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  private readonly max: number;
  private readonly touch: boolean;

  constructor(opts: BoundedMapOptions) {
    if (!Number.isInteger(opts.max) || opts.max < 0) throw new RangeError(`BoundedMap max must be a whole number ≥ 0, got ${opts.max}`);
    this.max = opts.max;
    this.touch = opts.touch ?? false;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined && this.touch) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Sets `key` as the newest entry, dropping the oldest ones beyond `max`. */
  set(key: K, value: V): this {
    if (this.max === 0) return this;
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }
}
