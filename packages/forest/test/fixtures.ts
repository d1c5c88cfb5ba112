import { Prng } from '../src/prng';

/** Seeded Gaussian-ish blobs: nClasses centres in nFeatures dims, rows row-major. */
export function blobs(n: number, nFeatures: number, nClasses: number, seed: number, spread = 1.5) {
  const rng = new Prng(seed);
  const centres = Array.from({ length: nClasses }, () =>
    Array.from({ length: nFeatures }, () => rng.next() * 6 - 3),
  );
  const X = new Float64Array(n * nFeatures);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const c = r % nClasses;
    y[r] = c;
    for (let f = 0; f < nFeatures; f++) X[r * nFeatures + f] = centres[c][f] + spread * gauss(rng);
  }
  return { X, y };
}

/** Features missing (nFeatures < 5) count as 0.5. y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise (Friedman #1). */
export function friedman(n: number, nFeatures: number, seed: number, noise = 0.5) {
  const rng = new Prng(seed);
  const X = new Float64Array(n * nFeatures);
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const o = r * nFeatures;
    for (let f = 0; f < nFeatures; f++) X[o + f] = rng.next();
    const x = (f: number): number => (f < nFeatures ? X[o + f] : 0.5);
    y[r] = 10 * Math.sin(Math.PI * x(0) * x(1)) + 20 * (x(2) - 0.5) ** 2 + 10 * x(3) + 5 * x(4) + noise * gauss(rng);
  }
  return { X, y };
}

export function gauss(rng: Prng): number {
  const u = 1 - rng.next(), v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function accuracy(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) c++;
  return c / y.length;
}

export function rows(X: Float64Array, nFeatures: number): number[][] {
  const out: number[][] = [];
  for (let o = 0; o < X.length; o += nFeatures) out.push(Array.from(X.subarray(o, o + nFeatures)));
  return out;
}
