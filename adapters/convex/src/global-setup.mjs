// Runs in the vitest main process: exit if the launcher (bin/adapter.mjs) is gone, so that no
// vitest process outlives the adapter, whatever way the launcher ended (even kill -9).
export default function setup() {
  const launcher = Number(process.env.REFMODEL_LAUNCHER_PID);
  if (!launcher) return undefined;
  const timer = setInterval(() => {
    if (!alive(launcher) || process.ppid !== launcher) {
      process.stderr.write("refmodel convex adapter: the launcher is gone; vitest exits\n");
      process.exit(3);
    }
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}
