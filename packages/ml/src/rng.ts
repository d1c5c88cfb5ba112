// Seeded PRNG (mulberry32): every random choice in training goes through this
// so a given seed reproduces splits, shuffles and initial weights.

export type Rng = () => number;

export function createRng(seed: number): Rng {
  let a = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** In-place Fisher–Yates shuffle. */
export function shuffleInPlace<T>(arr: T[] | Int32Array | Uint32Array, rng: Rng): void {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t as never;
  }
}

/** A 31-bit integer derived from a seed, for libraries that take integer seeds. */
export function deriveSeed(seed: number, salt: number): number {
  const r = createRng(seed * 7919 + salt);
  return Math.floor(r() * 0x7fffffff);
}
