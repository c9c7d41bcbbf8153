#!/usr/bin/env node
// The refmodel adapter program for the published @convex-dev/workpool (protocol v1).
//
//   node adapters/convex/bin/adapter.mjs [--start-lag-ms N] [--completion-lag-ms N]
//                                        [--mutations-without-duration]
//
// The component runs inside vitest (its TypeScript is loaded through import.meta.glob and the
// fake timers need vitest's own state), in one long-running test (src/serve.test.mjs). A vitest
// worker has no usable stdin, so this launcher starts vitest in its own process group and
// bridges its own stdin/stdout, line by line, to a Unix socket the test connects to; vitest's
// own output is kept aside (see `keep`). vitest never outlives the launcher: stdin EOF closes
// the socket and the test ends; SIGTERM/SIGINT/SIGHUP kill its process group; and if the
// launcher is killed outright, the test sees the socket close, and src/watchdog.mjs, preloaded
// into every vitest process, kills the process once the launcher is gone.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const config = join(root, "vitest.config.mjs");
const watchdog = new URL("../src/watchdog.mjs", import.meta.url).href;

// vitest's own output is kept as a short tail, shown on stderr only when the adapter ends
// abnormally (and written in full to $REFMODEL_CONVEX_LOG if set). It is never streamed: the
// harness reads our stderr only once we exit, so streaming would fill the pipe, and the
// backpressure would hold every write of vitest's (and the scenarios they belong to) in memory.
const TAIL_LINES = 40;
const tail = [];
let partial = "";
const log = process.env.REFMODEL_CONVEX_LOG
  ? createWriteStream(process.env.REFMODEL_CONVEX_LOG, { flags: "a" })
  : null;

function keep(chunk) {
  log?.write(chunk);
  const lines = (partial + chunk).split("\n");
  partial = lines.pop();
  tail.push(...lines);
  if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
}

function showTail() {
  const lines = [...tail, partial].filter((line) => line.trim());
  if (lines.length) process.stderr.write(`${lines.join("\n")}\n`);
  tail.length = 0;
  partial = "";
}

function fail(message) {
  showTail();
  process.stderr.write(`refmodel convex adapter: ${message}\n`);
  process.exit(1);
}

function parseOptions(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--mutations-without-duration") {
      options.mutationsWithoutDuration = true;
    } else if (arg === "--start-lag-ms" || arg === "--completion-lag-ms") {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 0) fail(`${arg} needs an integer >= 0`);
      options[arg === "--start-lag-ms" ? "startLagMs" : "completionLagMs"] = value;
    } else {
      fail(`unknown argument ${JSON.stringify(arg)} (see adapters/convex/README.md)`);
    }
  }
  return options;
}

const options = parseOptions(process.argv.slice(2));
if (!existsSync(vitest)) fail(`no node_modules in ${root}: run \`npm ci\` there first`);

const socketPath = join(tmpdir(), `refmodel-convex-${process.pid}-${randomBytes(4).toString("hex")}.sock`);
let child = null;
let connection = null;
let stdinEnded = false;
let shutdownRequested = false; // a socket closing after a shutdown request is a clean end
let exiting = false;
const pending = []; // request lines read before the test connected

function killGroup(signal) {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
}

function exit(code) {
  if (exiting) return;
  exiting = true;
  if (code !== 0) {
    showTail();
    process.stderr.write("refmodel convex adapter: the vitest test ended before the session did\n");
  }
  const alive = child && child.exitCode === null && child.signalCode === null;
  if (!alive) {
    cleanup();
    process.exit(code);
  }
  // Give vitest a moment to finish its run, then make sure the whole group is gone.
  const term = setTimeout(() => killGroup("SIGTERM"), 5000);
  const kill = setTimeout(() => {
    killGroup("SIGKILL");
    cleanup();
    process.exit(code);
  }, 7000);
  child.once("exit", () => {
    clearTimeout(term);
    clearTimeout(kill);
    killGroup("SIGKILL"); // stray grandchildren of the group, if any
    cleanup();
    process.exit(code);
  });
}

function cleanup() {
  rmSync(socketPath, { force: true });
}

process.on("exit", () => {
  killGroup("SIGKILL");
  cleanup();
});
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(signal, () => {
    killGroup("SIGTERM");
    setTimeout(() => {
      killGroup("SIGKILL");
      process.exit(128 + (signal === "SIGHUP" ? 1 : signal === "SIGINT" ? 2 : 15));
    }, 1500).unref();
    child?.once("exit", () => {
      killGroup("SIGKILL");
      process.exit(128 + (signal === "SIGHUP" ? 1 : signal === "SIGINT" ? 2 : 15));
    });
  });
}

const server = net.createServer((socket) => {
  if (connection) {
    socket.destroy();
    return;
  }
  connection = socket;
  server.close(); // one connection only; removes the listening socket
  socket.setEncoding("utf8");
  let buffer = "";
  socket.on("data", (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      process.stdout.write(buffer.slice(0, newline + 1));
      buffer = buffer.slice(newline + 1);
    }
  });
  socket.on("close", () => exit(stdinEnded || shutdownRequested ? 0 : 1));
  socket.on("error", () => {});
  for (const line of pending.splice(0)) socket.write(line);
  if (stdinEnded) socket.end();
});
server.on("error", (error) => fail(`cannot listen on ${socketPath}: ${error.message}`));
server.listen(socketPath, () => {
  const args = ["--import", watchdog, vitest, "run", "--config", config, "--root", root];
  child = spawn(process.execPath, args, {
    cwd: root,
    detached: true, // its own process group, so that the whole of vitest can be ended at once
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      REFMODEL_SOCKET: socketPath,
      REFMODEL_LAUNCHER_PID: String(process.pid),
      REFMODEL_CONVEX_OPTIONS: JSON.stringify(options),
      FORCE_COLOR: "0",
      NO_COLOR: "1",
    },
  });
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.on("exit", (code, signal) => {
    if (!connection && !exiting) {
      fail(`vitest exited (${signal ?? `status ${code}`}) before serving the protocol`);
    }
  });
});

process.stdout.on("error", () => exit(1)); // the harness went away
process.stdin.setEncoding("utf8");
let input = "";
function forward(line) {
  try {
    if (JSON.parse(line)?.method === "shutdown") shutdownRequested = true;
  } catch {
    // not JSON: the test answers it with a ProtocolError
  }
  if (connection) connection.write(line);
  else pending.push(line);
}
process.stdin.on("data", (chunk) => {
  input += chunk;
  let newline;
  while ((newline = input.indexOf("\n")) >= 0) {
    forward(input.slice(0, newline + 1));
    input = input.slice(newline + 1);
  }
});
process.stdin.on("end", () => {
  stdinEnded = true;
  if (input.trim()) forward(`${input}\n`);
  if (connection) connection.end();
  else if (!child) exit(0);
  // Otherwise the test connects, gets the buffered lines and an immediate end.
});
