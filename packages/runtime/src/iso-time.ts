// ISO 8601 UTC text for an epoch-milliseconds instant, as Date#toISOString
// writes it. That builtin costs about 0.6 µs on Node 20 (70 ns here), and a
// task carries up to eight timestamps each time it is written or shown: its
// PENDING row, its projected row, every poll's JSON. The date part is kept
// for the last day asked about, since nearly every instant is today.
const DAY_MS = 86_400_000;
/** Up to the last instant of year 9999; later (and earlier than 1970) go to the builtin, which writes extended years. */
const FAST_UNTIL_MS = 253_402_300_800_000;

let cachedDay = Number.NaN;
let cachedDate = "";

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

export function isoTime(ms: number): string {
  // Non-integers, negatives, far futures and NaN: the builtin's answer (or its RangeError).
  if (!Number.isInteger(ms) || ms < 0 || ms >= FAST_UNTIL_MS) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedDate = new Date(day * DAY_MS).toISOString().slice(0, 11); // "YYYY-MM-DDT"
    cachedDay = day;
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  return `${cachedDate}${two(h)}:${two(m)}:${two(s)}.${three(rest - s * 1000)}Z`;
}
