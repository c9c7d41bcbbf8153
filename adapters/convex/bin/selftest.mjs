#!/usr/bin/env node
// Self-test of the adapter program (`npm test` in adapters/convex): starts bin/adapter.mjs,
// plays one tiny scenario end to end through the protocol, checks what comes back, then checks
// that the launcher exits after `shutdown` and leaves no vitest process behind.
// Exit status 0 when every check passes, 1 otherwise; one line per check on stdout.

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const adapter = fileURLToPath(new URL("adapter.mjs", import.meta.url));
const TIMEOUT_MS = 60000;

const scenario = {
  version: 1,
  name: "selftest",
  profile: "current",
  seed: 7,
  pools: { p: { maxParallelism: 1 } },
  functions: {
    send: {
      kind: "action",
      attempts: [
        { durationMs: 100, throws: "provider down" },
        { durationMs: 50, returns: "sent" },
      ],
    },
    done: { kind: "mutation", recordsOnComplete: true },
  },
  steps: [],
};

process.stdout.on("error", () => {}); // a closed reader must not stop the cleanup below
let failures = 0;
function check(what, ok, detail = "") {
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${what}${detail ? `: ${detail}` : ""}\n`);
  if (!ok) failures += 1;
}

/** The pids of every process below `root` (Linux /proc; empty elsewhere). */
function descendants(root) {
  let stats;
  try {
    stats = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const children = new Map();
  for (const pid of stats) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    for (const child of children.get(queue.shift()) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

const child = spawn(process.execPath, [adapter], { stdio: ["pipe", "pipe", "pipe"] });
let stderr = "";
child.stderr.on("data", (chunk) => {
  stderr += chunk;
});
const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
const lines = [];
const waiters = [];
let buffer = "";
child.stdout.setEncoding("utf8");
child.stdout.on("data", (chunk) => {
  buffer += chunk;
  let newline;
  while ((newline = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    if (waiters.length) waiters.shift()(line);
    else lines.push(line);
  }
});

let nextId = 0;
async function request(method, params = {}) {
  const id = ++nextId;
  child.stdin.write(`${JSON.stringify({ id, method, params })}\n`);
  const line = await Promise.race([
    lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiters.push(resolve)),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no answer to ${method} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS).unref(),
    ),
  ]);
  const response = JSON.parse(line);
  if (response.id !== id) throw new Error(`answer to ${method} has id ${response.id}, not ${id}`);
  return response;
}

try {
  const started = Date.now();
  const handshake = (await request("handshake")).result;
  check("handshake speaks protocol 1", handshake?.protocol === 1, `in ${Date.now() - started} ms`);
  check(
    "handshake declares current-api, retries and onComplete, not seed-api",
    ["current-api", "retries", "onComplete"].every((f) => handshake.features.includes(f)) &&
      !handshake.features.includes("seed-api"),
  );
  const reset = await request("reset", { scenario });
  check("reset", "result" in reset, reset.error ? JSON.stringify(reset.error) : "");
  const options = {
    retry: { maxAttempts: 3, initialBackoffMs: 200, base: 2 },
    onComplete: "done",
    context: { user: "ada" },
  };
  const enqueued = await request("call", {
    step: { op: "enqueue", pool: "p", fn: "send", args: { to: "ada", _ref: "a" }, ref: "a", options },
  });
  const id = enqueued.result?.id;
  check("enqueue returns a pool-qualified id", typeof id === "string" && id.startsWith("p/"), id);
  const status = await request("call", { step: { op: "status", pool: "p", id } });
  check(
    "status right after enqueue is pending with 0 previous attempts",
    status.result?.status?.state === "pending" && status.result?.status?.previousAttempts === 0,
    JSON.stringify(status.result ?? status.error),
  );
  const rejected = await request("call", { step: { op: "configure", pool: "p", maxParallelism: 500 } });
  check("configure maxParallelism 500 is rejected", "error" in rejected, JSON.stringify(rejected.error));
  const advanced = (await request("advance", { ms: 1000 })).result;
  check("advance 1000 ms reports now = 1000", advanced?.now === 1000);
  const mine = advanced.events.filter((event) => event.id === id);
  const kinds = mine.map((event) => event.kind);
  check(
    "the item is enqueued, started, retried, started again, succeeds, and onComplete is called",
    JSON.stringify(kinds) ===
      JSON.stringify(["enqueued", "started", "retrying", "started", "succeeded", "on_complete"]),
    kinds.join(","),
  );
  const retry = mine.find((event) => event.kind === "retrying")?.data ?? {};
  check(
    "the drawn retry delay lies in the jitter bounds [100, 300]",
    Number.isInteger(retry.delayMs) && retry.delayMs >= 100 && retry.delayMs <= 300,
    `delayMs ${retry.delayMs}, drawn by the loop at ${retry.drawnAt} ms, retryAt ${retry.retryAt}`,
  );
  const last = mine.at(-1)?.data ?? {};
  check(
    "onComplete gets the success and the context",
    JSON.stringify(last.result) === JSON.stringify({ kind: "success", returnValue: "sent" }) &&
      JSON.stringify(last.context) === JSON.stringify({ user: "ada" }),
    JSON.stringify(last),
  );
  const times = advanced.events.map((event) => event.t);
  const seqs = advanced.events.map((event) => event.seq);
  check(
    "events are in time order with increasing seq",
    times.every((t, i) => i === 0 || t >= times[i - 1]) && seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
  );
  const vitest = descendants(child.pid);
  check("vitest runs below the launcher", vitest.length >= 2, `pids ${vitest.join(" ")}`);
  const bye = await request("shutdown");
  check("shutdown is answered", "result" in bye);
  const { code, signal } = await Promise.race([
    exited,
    new Promise((resolve) => setTimeout(() => resolve({ code: "timeout" }), 15000).unref()),
  ]);
  check("the launcher exits with status 0 after shutdown", code === 0, `status ${code ?? signal}`);
  const deadline = Date.now() + 5000;
  let left = vitest.filter(alive);
  while (left.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = vitest.filter(alive);
  }
  check("no vitest process is left", left.length === 0, left.length ? `alive: ${left.join(" ")}` : "");
} catch (error) {
  check("the session completes", false, error.message);
  process.stdout.write(stderr.split("\n").slice(-15).join("\n"));
  child.kill("SIGTERM");
}
process.stdout.write(failures ? `${failures} check(s) failed\n` : "all checks passed\n");
process.exit(failures ? 1 : 0);
