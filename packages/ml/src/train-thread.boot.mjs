// Worker bootstrap. Node 20 does not apply `--import tsx` loader hooks inside
// worker threads (ERR_UNKNOWN_FILE_EXTENSION), so the worker starts from this
// plain-JS file and loads the TypeScript entry through tsx's API. "tsx" is
// resolved relative to this file (workspace root), independent of the cwd.
import { workerData } from "node:worker_threads";

const { tsImport } = await import("tsx/esm/api");
await tsImport(workerData.entry, import.meta.url);
