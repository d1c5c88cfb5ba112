// Small synthetic data sets shared by the tests (deterministic).
import { createRng } from "../src/rng";

/** Customers: age, income (10% missing), color, city (5% missing), signup date → bought (yes/no), spend (number). */
export function customersCsv(n = 400, seed = 1): string {
  const rng = createRng(seed);
  const lines = ["age,income,color,city,signup,bought,spend"];
  for (let i = 0; i < n; i++) {
    const age = Math.round(20 + rng() * 50);
    const incomeV = 20000 + rng() * 80000;
    const income = rng() < 0.1 ? "" : incomeV.toFixed(0);
    const color = ["red", "green", "blue"][Math.floor(rng() * 3)];
    const city = rng() < 0.05 ? "" : ["Paris", "Lyon", "Nice"][Math.floor(rng() * 3)];
    const day = 1 + Math.floor(rng() * 28);
    const signup = `2023-0${1 + Math.floor(rng() * 9)}-${String(day).padStart(2, "0")}`;
    const score = (age - 45) / 10 + (color === "red" ? 1 : 0) + (incomeV - 60000) / 30000 + (rng() - 0.5);
    const spend = (50 + 3 * age + incomeV / 1000 + (color === "red" ? 40 : 0) + rng() * 10).toFixed(2);
    lines.push([age, income, color, city, signup, score > 0 ? "yes" : "no", spend].join(","));
  }
  return lines.join("\r\n") + "\r\n";
}
