// Which methods a path answers. Hono's notFound cannot tell a wrong method
// from a wrong path; a client that PUTs to a POST route should hear 405 with
// an Allow header (as Flask answers), not "no route".
import type { Hono } from "hono";
import { TrieRouter } from "hono/router/trie-router";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** Built once the app's routes are all registered; middleware (method ALL) is not a route. */
export function allowedMethods(app: Hono<any>): (path: string) => string[] {
  const router = new TrieRouter<string>();
  for (const r of app.routes) if (r.method !== "ALL") router.add(r.method, r.path, r.method);
  return (path) => {
    const allowed: string[] = METHODS.filter((m) => router.match(m, path)[0].length > 0);
    if (allowed.includes("GET")) allowed.splice(1, 0, "HEAD");
    return allowed;
  };
}
