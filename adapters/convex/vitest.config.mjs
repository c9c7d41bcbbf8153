// vitest configuration of the adapter's one long-running test (src/serve.test.mjs), which serves
// the refmodel adapter protocol over the Unix socket the launcher (bin/adapter.mjs) gives it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { hooksPlugin } from "./src/hooks.mjs";

const root = fileURLToPath(new URL(".", import.meta.url));
const watchdog = new URL("./src/watchdog.mjs", import.meta.url).href;

export default defineConfig({
  root,
  plugins: [hooksPlugin()],
  test: {
    include: ["src/serve.test.mjs"],
    environment: "node",
    // One test serves a whole session: no timeout (the launcher and the watchdogs end it).
    testTimeout: 2147483647,
    hookTimeout: 60000,
    teardownTimeout: 5000,
    pool: "forks",
    // The worker gets the launcher watchdog from its first instant (see src/watchdog.mjs).
    poolOptions: { forks: { singleFork: true, execArgv: ["--import", watchdog] } },
    fileParallelism: false,
    watch: false,
    reporters: ["default"],
    // The component logs every failed attempt, warnings and reports; they are not part of the
    // protocol. They are dropped unless $REFMODEL_CONVEX_LOG names a file to keep them in.
    onConsoleLog: () => (process.env.REFMODEL_CONVEX_LOG ? undefined : false),
  },
});
