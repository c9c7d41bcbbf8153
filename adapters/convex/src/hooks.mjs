// Load-time hooks into the published component's source (a vite `transform`).
//
// The component's public API reports only pending / running / finished. To see when an attempt
// starts, how it ends, which retry delay the loop draws, and which cancels it takes, six
// one-line, behaviour-free calls
// are inserted into its TypeScript as vitest loads it from node_modules. Nothing is copied or
// vendored: each hook names a short fragment of one line (its anchor) and how often the fragment
// must occur; the call is inserted just before each occurrence, on the same line, so line
// numbers do not move. A missing or repeated anchor (the component changed) fails the load
// with a message that names the file and the anchor.
//
// Each inserted call is `globalThis.__refmodelHook?.(name, {...})`: it reads local variables
// only, returns nothing, and is a no-op when no adapter listens. The module also records, at its
// top, which hooks it carries, so the adapter can refuse to start if one was not applied.

export const WORKPOOL_DIR = "/node_modules/@convex-dev/workpool/src/component/";

/** The hooks, by file. `count` is how often `anchor` must occur in the file. */
export const HOOKS = [
  {
    id: "lib.enqueued",
    file: "lib.ts",
    anchor: "recordEnqueued(console,",
    count: 1,
    // enqueueHandler: the work doc and its pendingStart row have been inserted; the time and
    // the retry behaviour are the ones the component stored.
    call: 'globalThis.__refmodelHook?.("enqueued", { workId, runAt, retryBehavior: workArgs.retryBehavior });',
  },
  {
    id: "lib.cancelRequested",
    file: "lib.ts",
    anchor: 'await ctx.db.insert("pendingCancelation", {',
    count: 1,
    // cancel: the work exists and had no pending cancelation; the request is recorded.
    call: 'globalThis.__refmodelHook?.("cancelRequested", { workId: id });',
  },
  {
    id: "lib.cancelAllRequested",
    file: "lib.ts",
    anchor: 'return ctx.db.insert("pendingCancelation", {',
    count: 1,
    // cancelAll: the same, for each item of the page it selected.
    call: 'globalThis.__refmodelHook?.("cancelRequested", { workId: _id });',
  },
  {
    id: "loop.started",
    file: "loop.ts",
    anchor: "recordStarted(console, work, lagMs,",
    count: 2, // once for actions and queries (runBatch), once for mutations
    call: 'globalThis.__refmodelHook?.("started", { workId: work._id, attempts: work.attempts, lagMs });',
  },
  {
    id: "loop.retryDrawn",
    file: "loop.ts",
    anchor: "const segment = toSegment(startTime);",
    count: 1,
    // rescheduleJob: the jittered delay has just been drawn, the retry time computed.
    call: 'globalThis.__refmodelHook?.("retryDrawn", { workId: work._id, attempts: work.attempts, delayMs: nextAttempt, startTime });',
  },
  {
    id: "complete.decided",
    file: "complete.ts",
    anchor: "if (!retry) {",
    count: 1,
    // completeHandler: attempts incremented, retry decided, before onComplete / deletion.
    call: 'globalThis.__refmodelHook?.("complete", { workId: job.workId, attempts: work.attempts, runResult: job.runResult, retry });',
  },
];

export const HOOK_IDS = HOOKS.map((hook) => hook.id);

/** The source of `file` with its hooks inserted; throws if an anchor is not found as expected. */
export function applyHooks(code, file) {
  const hooks = HOOKS.filter((hook) => hook.file === file);
  if (hooks.length === 0) return null;
  let out = code;
  for (const hook of hooks) {
    const found = out.split(hook.anchor).length - 1;
    if (found !== hook.count) {
      throw new Error(
        `refmodel convex adapter: hook ${hook.id}: the anchor ${JSON.stringify(hook.anchor)} ` +
          `occurs ${found} time(s) in @convex-dev/workpool/src/component/${file}, expected ` +
          `${hook.count}. The component's source is not the one the hooks were written for ` +
          "(pinned: @convex-dev/workpool 0.4.16); fix adapters/convex/src/hooks.mjs.",
      );
    }
    out = out.split(hook.anchor).join(`${hook.call} ${hook.anchor}`);
  }
  const ids = JSON.stringify(hooks.map((hook) => hook.id));
  // Prepended on the first line (no newline) so that line numbers stay the same.
  const marker = `(globalThis.__refmodelHooked ??= new Set()); for (const id of ${ids}) globalThis.__refmodelHooked.add(id);`;
  return marker + out;
}

/** The vite plugin that applies the hooks to the component's files as they are loaded. */
export function hooksPlugin() {
  return {
    name: "refmodel-workpool-hooks",
    enforce: "pre",
    transform(code, id) {
      const path = id.split("?")[0].replaceAll("\\", "/");
      const at = path.lastIndexOf(WORKPOOL_DIR);
      if (at < 0) return null;
      const file = path.slice(at + WORKPOOL_DIR.length);
      const hooked = applyHooks(code, file);
      return hooked === null ? null : { code: hooked, map: null };
    },
  };
}
