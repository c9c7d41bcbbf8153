// The one long-running vitest test: it serves the refmodel adapter protocol (JSON Lines, v1)
// over the Unix socket whose path the launcher (bin/adapter.mjs) passes in REFMODEL_SOCKET.
// A vitest worker has no usable stdin, hence the socket. The test ends, and vitest exits, when
// the socket closes (the launcher's stdin closed, it was killed, or a shutdown was answered);
// src/watchdog.mjs, preloaded into every vitest process, covers the launcher's death too.

import net from "node:net";
import { test } from "vitest";
import { AdapterError, World } from "./world.mjs";

const socketPath = process.env.REFMODEL_SOCKET;
const options = JSON.parse(process.env.REFMODEL_CONVEX_OPTIONS || "{}");

test.skipIf(!socketPath)("serve the refmodel adapter protocol", async () => {
  // Load the component before connecting (and before any fake timer).
  const world = await World.create(options);
  const socket = net.createConnection(socketPath);
  socket.setEncoding("utf8");
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  try {
    await serve(socket, world);
  } finally {
    world.close();
    socket.destroy();
  }
});

/** Answer requests in order until shutdown or the socket closes. */
function serve(socket, world) {
  return new Promise((resolve) => {
    let buffer = "";
    let number = 0;
    let queue = Promise.resolve();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      world.close();
      resolve();
    };
    const send = (message) => {
      if (!done) socket.write(`${JSON.stringify(message)}\n`);
    };
    socket.on("data", (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!line.trim()) continue;
        const lineNumber = ++number;
        queue = queue.then(async () => {
          if (done) return;
          const [response, shutdown] = await answer(world, line, lineNumber);
          send(response);
          if (shutdown) socket.end(finish);
        });
      }
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", finish);
  });
}

/** The response to one request line, and whether it was a shutdown. */
async function answer(world, line, lineNumber) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    const message = `line ${lineNumber}: invalid JSON: ${error.message}`;
    return [{ id: null, error: { type: "ProtocolError", message } }, false];
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    const message = `line ${lineNumber}: a request must be a JSON object`;
    return [{ id: null, error: { type: "ProtocolError", message } }, false];
  }
  const id = request.id ?? null;
  const params = request.params ?? {};
  try {
    switch (request.method) {
      case "handshake":
        return [{ id, result: world.handshake(params) }, false];
      case "reset":
        await world.reset(params.scenario);
        return [{ id, result: {} }, false];
      case "call": {
        const result = await world.call(params.step);
        return ["error" in result ? { id, error: result.error } : { id, result }, false];
      }
      case "advance":
        return [{ id, result: await world.advance(params.ms) }, false];
      case "shutdown":
        return [{ id, result: {} }, true];
      default:
        throw new AdapterError("ProtocolError", `line ${lineNumber}: unknown method ${JSON.stringify(request.method)}`);
    }
  } catch (error) {
    const type = error instanceof AdapterError ? error.type : error?.constructor?.name || "Error";
    const message = error instanceof AdapterError ? error.message : String(error?.stack ?? error);
    process.stderr.write(`refmodel convex adapter: ${request.method} failed: ${message}\n`);
    return [{ id, error: { type, message: message.split("\n")[0] } }, false];
  }
}
