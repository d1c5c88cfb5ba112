// temporary latency probe (not committed)
const h = new Map<string, number[]>();
export function probe(name: string, v: number) { let a = h.get(name); if (!a) h.set(name, (a = [])); a.push(v); }
setInterval(() => {
  for (const [k, a] of h) { if (!a.length) continue; a.sort((x, y) => x - y); const q = (p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))].toFixed(2);
    process.stderr.write(`PROBE ${k} n=${a.length} p50=${q(0.5)} p90=${q(0.9)} p99=${q(0.99)} mean=${(a.reduce((s, x) => s + x, 0) / a.length).toFixed(2)}\n`); a.length = 0; }
}, 2000).unref();
import { monitorEventLoopDelay } from "node:perf_hooks";
const eld = monitorEventLoopDelay({ resolution: 1 }); eld.enable();
setInterval(() => { process.stderr.write(`PROBE eld p50=${(eld.percentile(50) / 1e6).toFixed(2)} p90=${(eld.percentile(90) / 1e6).toFixed(2)} p99=${(eld.percentile(99) / 1e6).toFixed(2)}\n`); eld.reset(); }, 2000).unref();
