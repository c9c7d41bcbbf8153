// Preloaded (node --import) into every node process of the adapter's vitest: its main process
// and its fork worker. From the first instant of the process, it kills the process when the
// launcher (bin/adapter.mjs) is gone or when the process's parent changed (its parent died), so
// that no vitest process outlives the adapter.
//
// It polls from a worker thread of its own, not from the process's event loop: a vitest worker
// orphaned while vitest is still starting up spins in a promise loop that starves its event
// loop (no timer or I/O callback ever runs again) while its memory grows without bound.
import { Worker } from "node:worker_threads";

const launcher = Number(process.env.REFMODEL_LAUNCHER_PID);

const source = `
const { workerData } = require("node:worker_threads");
const { pid, parent, launcher, socket } = workerData;
function alive(p) {
  try { process.kill(p, 0); return true; } catch (error) { return error.code === "EPERM"; }
}
setInterval(() => {
  if (!alive(launcher) || process.ppid !== parent) {
    try { process.stderr.write("refmodel convex adapter: pid " + pid + ": the launcher is gone; killed\\n"); } catch {}
    // A launcher killed before the test connected leaves its listening socket's file behind.
    if (socket && !alive(launcher)) { try { require("node:fs").rmSync(socket, { force: true }); } catch {} }
    process.kill(pid, "SIGKILL");
  }
}, 250);
`;

if (launcher) {
  const worker = new Worker(source, {
    eval: true,
    workerData: { pid: process.pid, parent: process.ppid, launcher, socket: process.env.REFMODEL_SOCKET },
    stdout: false,
    stderr: false,
  });
  worker.unref();
}
