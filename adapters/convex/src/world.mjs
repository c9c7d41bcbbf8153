// The adapter's world: the published @convex-dev/workpool run under convex-test with vitest's
// fake timers, driven by refmodel adapter-protocol requests (specs/adapter-protocol.md, v1).
//
// Theory of operation.
// - Each `reset` builds a fresh convexTest instance at virtual time 0, i.e. Date.now() = EPOCH
//   (a multiple of the component's 100 ms segment), with fake timers reinstalled (so no timer
//   of the previous scenario survives) and Math.random seeded from the scenario's seed.
// - Each pool is its own registered component instance (`t.registerComponent(pool, ...)`, with
//   its batch-worker at `<pool>/batchWorker`) and its own `Workpool` client, constructed with
//   the scenario's options, exactly as an app would. Steps go through that client inside
//   inline convex-test mutations and queries, as an app's mutation would call it.
// - The declared functions are app functions (module `fns`); an action waits its durationMs on
//   the fake clock. Declared mutations used as onComplete handlers are registered once per pool
//   (module `oc`), so that the handler knows which pool called it and reports `on_complete`
//   with the result object it actually received.
// - `advance` fires the fake timers one at a time, in due order, letting every promise chain
//   settle (real setImmediate turns) after each, and never fires a timer due after the target.
// - Observation: the component's own functions are wrapped (per pool) so that their handlers
//   run in an AsyncLocalStorage context naming the pool; the load-time hooks (hooks.mjs) call
//   `globalThis.__refmodelHook`, which turns what they see into trace events. Events carry the
//   fake clock's time (virtual ms); a transaction's own Date.now() can be 1 ms ahead of it
//   (convex-test pins it past the last commit), and is reported as `componentNow` when it is.
// - Work ids are qualified with their pool, "<pool>/<docId>": convex-test numbers each
//   component's documents from the same start, so two pools hand out the same document ids.
//
// What the protocol cannot express is said in the handshake (features) and in README.md.

import { AsyncLocalStorage } from "node:async_hooks";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { vi } from "vitest";
import { convexTest } from "convex-test";
import {
  actionGeneric,
  makeFunctionReference,
  mutationGeneric,
  queryGeneric,
} from "convex/server";
import { NonRetryableError, Workpool } from "@convex-dev/workpool";
import { HOOK_IDS } from "./hooks.mjs";

export const PROTOCOL_VERSION = 2;
/** Virtual time 0 is this Date.now(): 2026-01-01T00:00:00Z, a multiple of 100 ms. */
export const EPOCH = Date.UTC(2026, 0, 1);
const FAKED = ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"];
/** A guard against a livelock: this many timers at one instant ends the run with an error. */
const MAX_TIMERS_PER_INSTANT = 20000;
const DEFAULT_RETRY = { maxAttempts: 5, initialBackoffMs: 250, base: 2 };

// Captured before any fake timer is installed: settling promise chains needs a real turn.
const realSetImmediate = globalThis.setImmediate.bind(globalThis);
const realRandom = Math.random.bind(Math);

const here = fileURLToPath(new URL(".", import.meta.url));
const modulesRoot = join(here, "..", "node_modules");

/** Which pool the component code that is running belongs to. */
const poolStore = new AsyncLocalStorage();

/** An error the harness reports as the adapter failing (reset, advance) or a rejected step. */
export class AdapterError extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

function packageVersion(name) {
  const text = readFileSync(join(modulesRoot, name, "package.json"), "utf8");
  return JSON.parse(text).version;
}

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

/**
 * A component's function modules, loaded now (before fake timers), keyed as convex-test wants
 * them ("./_generated/api.ts", "./lib.ts", ...). Tests and convex.config.ts are not loaded.
 */
async function loadComponentModules(dir) {
  const modules = {};
  for (const path of walk(dir)) {
    const key = `./${relative(dir, path).replaceAll("\\", "/")}`;
    if (!key.endsWith(".ts") || key.endsWith(".test.ts") || key === "./convex.config.ts") continue;
    modules[key] = await import(/* @vite-ignore */ path);
  }
  return modules;
}

/**
 * The component's modules for one pool: every registered function's handler runs in the pool's
 * context (so hooks know the pool); nothing else changes. Loaders return the loaded modules, so
 * no import happens (and no real I/O interleaves) while timers are being fired.
 */
function modulesForPool(modules, pool) {
  const out = {};
  for (const [key, module] of Object.entries(modules)) {
    const wrapped = {};
    for (const [name, value] of Object.entries(module)) {
      if (value && typeof value._handler === "function") {
        const handler = value._handler;
        const copy = Object.create(value);
        copy._handler = (ctx, args) => poolStore.run(pool, () => handler(ctx, args));
        wrapped[name] = copy;
      } else {
        wrapped[name] = value;
      }
    }
    out[key] = async () => wrapped;
  }
  return out;
}

/** sfc32, seeded from an integer (the scenario's seed): reproducible jitter draws. */
function seededRandom(seed) {
  const big = BigInt.asUintN(64, BigInt(Math.trunc(Number(seed) || 0)));
  let a = Number(big & 0xffffffffn) >>> 0;
  let b = Number(big >> 32n) >>> 0;
  let c = 0x9e3779b9;
  let d = 0x85ebca6b;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

function settle() {
  return new Promise((resolve) => realSetImmediate(resolve));
}

function errorOf(error) {
  if (error instanceof AdapterError) return { type: error.type, message: error.message };
  const type = error?.constructor?.name || "Error";
  return { type, message: String(error?.message ?? error) };
}

export class World {
  /** Load the component and check its hooks; call once, before any fake timer. */
  static async create(options = {}) {
    const workpool = await loadComponentModules(
      join(modulesRoot, "@convex-dev/workpool/src/component"),
    );
    const batchWorker = await loadComponentModules(
      join(modulesRoot, "@convex-dev/batch-worker/src/component"),
    );
    const applied = globalThis.__refmodelHooked ?? new Set();
    const missing = HOOK_IDS.filter((id) => !applied.has(id));
    if (missing.length) {
      throw new Error(
        `refmodel convex adapter: hooks not applied: ${missing.join(", ")} (is the vitest ` +
          "config with the hooks plugin in use?)",
      );
    }
    return new World(workpool, batchWorker, options);
  }

  constructor(workpool, batchWorker, options) {
    this.workpool = workpool;
    this.batchWorker = batchWorker;
    this.options = {
      startLagMs: 250,
      completionLagMs: 250,
      mutationsWithoutDuration: false,
      ...options,
    };
    this.versions = {
      workpool: packageVersion("@convex-dev/workpool"),
      batchWorker: packageVersion("@convex-dev/batch-worker"),
      convex: packageVersion("convex"),
      convexTest: packageVersion("convex-test"),
      vitest: packageVersion("vitest"),
    };
    this.scenario = null;
    this.closed = false;
    const world = this;
    globalThis.__refmodelHook = (name, data) => world.onHook(name, data);
    // Math.random draws made by component code (retry jitter is its only use) come from the
    // scenario's PRNG; any other draw (vitest, the adapter) is left alone.
    const seeded = Object.create(Math);
    seeded.random = () => world.random();
    globalThis.Math = seeded;
  }

  // Protocol 2 when the harness offers it (specs/adapter-protocol.md section 2): mutations
  // are declared with the no-duration variant (a Convex mutation cannot wait on a timer), so
  // only fixtures whose mutations take no virtual time are played. Protocol 1 otherwise.
  handshake(params = {}) {
    const offered = Array.isArray(params.protocols) ? params.protocols : [1];
    const protocol = offered.includes(PROTOCOL_VERSION) ? PROTOCOL_VERSION : 1;
    this.protocol = protocol;
    const features = [
      "batch",
      "cancel",
      "cancelAll",
      "configure",
      "current-api",
      "hang",
      "nonRetryable",
      "onComplete",
      "queries",
      "retries",
      "runAt",
    ];
    if (this.options.mutationsWithoutDuration || protocol === 2) features.push("mutations");
    const v = this.versions;
    const v2 = protocol === 2 ? { featureVariants: { mutations: ["no-duration"] } } : {};
    return {
      protocol,
      ...v2,
      name: "@convex-dev/workpool",
      version: `${v.workpool} (batch-worker ${v.batchWorker}, convex ${v.convex}, convex-test ${v.convexTest}, vitest ${v.vitest})`,
      features: features.sort(),
      latency: {
        startLagMs: this.options.startLagMs,
        completionLagMs: this.options.completionLagMs,
        // Work is eligible at the start of its 100 ms segment: up to 99 ms before its time.
        earlyStartMs: 99,
      },
      // What the component does that the spec does not allow, each documented in
      // specs/workpool.md section 7 and admitted by name (DEVIATIONS in refmodel.constants).
      deviations: [
        "CAN-5/foreign-id-cancel-ignored",
        "CAN-7/paged-cancel-all",
        "CAN-7/same-instant-enqueue-spared",
        "ENQ-5/retry-on-mutation-ignored",
        "ONC-3/non-retryable-error-data",
        // Protocol 2 reports when each retry was decided (decidedAt), which is latency, not a
        // deviation; protocol 1 cannot, so there the late draw is admitted by name.
        ...(protocol === 2 ? [] : ["RTY-2/retry-drawn-by-loop"]),
        "STS-4/foreign-id-finished",
        "STS-5/canceled-reads-running",
      ],
    };
  }

  // ── Time ───────────────────────────────────────────────────────────────────────────────

  vnow() {
    return Math.floor(this.clock.now) - EPOCH;
  }

  random() {
    const pool = poolStore.getStore();
    if (pool === undefined || !this.prng) return realRandom();
    const value = this.prng();
    this.emit("rng", null, null, { purpose: `Math.random in pool ${pool}`, value });
    return value;
  }

  nextTimerAt() {
    let first = null;
    for (const timer of Object.values(this.clock.timers ?? {})) {
      if (first === null || timer.callAt < first) first = timer.callAt;
    }
    return first;
  }

  // ── Reset ──────────────────────────────────────────────────────────────────────────────

  async reset(scenario) {
    const profile = scenario.profile ?? "seed";
    if (profile !== "current") {
      throw new AdapterError(
        "ScenarioError",
        `profile ${JSON.stringify(profile)} is not supported: the published component has the ` +
          "current profile's API only (declared feature current-api, not seed-api)",
      );
    }
    this.scenario = scenario;
    this.events = [];
    this.seq = 0;
    this.items = new Map();
    this.enqueueFacts = new Map();
    this.runs = new Map();
    this.broken = null;
    this.prng = seededRandom(scenario.seed ?? 0);

    vi.useRealTimers();
    vi.useFakeTimers({ toFake: FAKED, now: EPOCH });
    this.clock = globalThis.setTimeout.clock;
    if (!this.clock || this.clock.now !== EPOCH) {
      throw new Error("refmodel convex adapter: cannot reach the fake clock");
    }

    this.functions = new Map();
    const fns = {};
    const oc = {};
    const pools = Object.keys(scenario.pools ?? {});
    let index = 0;
    for (const [name, spec] of Object.entries(scenario.functions ?? {})) {
      const exportName = `f${index++}`;
      this.functions.set(name, { name, spec, exportName });
      if (spec.kind === "mutation" && spec.durationMs) {
        // A Convex mutation cannot wait on a timer: the declared duration is not realised.
        process.stderr.write(
          `refmodel convex adapter: scenario ${JSON.stringify(scenario.name ?? "")}: mutation ` +
            `${JSON.stringify(name)} declares durationMs ${spec.durationMs}; a Convex mutation ` +
            "cannot wait, so it commits at once\n",
        );
      }
      fns[exportName] = this.declare(name, spec, null);
      if (spec.kind === "mutation") {
        for (const pool of pools) oc[`${pool}__${exportName}`] = this.declare(name, spec, pool);
      }
    }
    const t = convexTest(undefined, {
      "./_generated/api.js": async () => ({}),
      "./fns.js": async () => fns,
      "./oc.js": async () => oc,
    });
    this.t = t;
    this.pools = new Map();
    this.emit("world_started", null, null, {
      traceVersion: 1,
      seed: scenario.seed ?? 0,
      epoch: EPOCH,
      profile,
    });
    const workpoolSchema = this.workpool["./schema.ts"].default;
    const batchWorkerSchema = this.batchWorker["./schema.ts"].default;
    for (const pool of pools) {
      const given = scenario.pools[pool] ?? {};
      t.registerComponent(
        `${pool}/batchWorker`,
        batchWorkerSchema,
        modulesForPool(this.batchWorker, pool),
      );
      const component = t.registerComponent(pool, workpoolSchema, modulesForPool(this.workpool, pool));
      const options = {};
      for (const key of ["maxParallelism", "logLevel", "retryActionsByDefault"]) {
        if (key in given) options[key] = given[key];
      }
      if ("defaultRetryBehavior" in given) {
        options.defaultRetryBehavior = { ...DEFAULT_RETRY, ...given.defaultRetryBehavior };
      }
      this.pools.set(pool, { name: pool, component, client: new Workpool(component, options) });
      this.emit("pool_created", pool, null, this.poolOptions(pool));
    }
  }

  /** The pool's options as the model's pool_created reports them, defaults filled in. */
  poolOptions(pool) {
    const options = this.pools.get(pool).client.options;
    return {
      maxParallelism: options.maxParallelism ?? 10,
      logLevel: options.logLevel ?? "REPORT",
      retryActionsByDefault: options.retryActionsByDefault ?? false,
      defaultRetryBehavior: { ...DEFAULT_RETRY, ...(options.defaultRetryBehavior ?? {}) },
    };
  }

  /** A declared function as a Convex function; `onCompleteOf` is the pool of an onComplete copy. */
  declare(name, spec, onCompleteOf) {
    const world = this;
    if (spec.kind === "action") {
      const attempts = spec.attempts;
      return actionGeneric({
        handler: async (_ctx, args) => {
          const key = String(args?._ref ?? "");
          const n = (world.runs.get(key) ?? 0) + 1;
          world.runs.set(key, n);
          const attempt = attempts[Math.min(n, attempts.length) - 1];
          if (attempt.durationMs) {
            await new Promise((resolve) => setTimeout(resolve, attempt.durationMs));
          }
          if (attempt.hangs) await new Promise(() => {});
          if ("throws" in attempt) throw new Error(attempt.throws);
          if ("throwsNonRetryable" in attempt) {
            throw new NonRetryableError(attempt.throwsNonRetryable);
          }
          return attempt.returns ?? null;
        },
      });
    }
    if (spec.kind === "query") {
      return queryGeneric({ handler: async () => spec.returns ?? null });
    }
    return mutationGeneric({
      handler: async (ctx, args) => {
        if (onCompleteOf !== null) {
          world.emit("on_complete", onCompleteOf, `${onCompleteOf}/${args.workId}`, {
            fn: name,
            context: args.context ?? null,
            result: args.result,
          });
        }
        for (const table of spec.reads ?? []) await ctx.db.query(table).collect();
        for (const table of spec.writes ?? []) {
          const rows = await ctx.db.query(table).take(1);
          if (rows.length) await ctx.db.patch(rows[0]._id, { value: rows[0].value + 1 });
          else await ctx.db.insert(table, { value: 1 });
        }
        if ("throws" in spec) throw new Error(spec.throws);
        return spec.recordsOnComplete ? null : (spec.returns ?? null);
      },
    });
  }

  // ── Events ─────────────────────────────────────────────────────────────────────────────

  emit(kind, pool, id, data, t = this.vnow()) {
    this.events.push({ t, order: this.events.length, kind, pool, id, data });
  }

  /** The events not reported yet, in time order (a retry is known only once the loop draws
   * its delay, after the failure it belongs to: see onHook). */
  drain() {
    const events = this.events.sort((x, y) => x.t - y.t || x.order - y.order);
    this.events = [];
    return events.map(({ t, kind, pool, id, data }) => ({
      t,
      seq: ++this.seq,
      kind,
      pool,
      id,
      data,
    }));
  }

  /** Called by the hooks inside the component's code; never throws into it. */
  onHook(name, data) {
    try {
      this.observe(name, data);
    } catch (error) {
      this.broken ??= `hook ${name}: ${error?.stack ?? error}`;
    }
  }

  observe(name, data) {
    if (!this.scenario) return;
    const pool = poolStore.getStore();
    if (pool === undefined) throw new Error("hook called outside any pool's code");
    const key = `${pool}/${data.workId}`;
    if (name === "enqueued") {
      this.enqueueFacts.set(key, { runAt: data.runAt, retry: data.retryBehavior ?? null });
      return;
    }
    const item = this.items.get(key) ?? this.newItem(key);
    const extra = {};
    const componentNow = Date.now() - EPOCH;
    if (componentNow !== this.vnow()) extra.componentNow = componentNow;
    if (name === "started") {
      item.started += 1;
      item.running = true;
      const lag = this.vnow() - item.eligibleAt;
      this.emit("started", pool, key, {
        attempt: data.attempts + 1,
        lagMs: Math.max(0, lag),
        ...(lag < 0 ? { earlyMs: -lag } : {}),
        segmentLagMs: data.lagMs,
        ...extra,
      });
    } else if (name === "cancelRequested") {
      // Only a cancel of a running attempt is an event of its own (running -> canceling); a
      // waiting item ends canceled when the loop processes the request (completion lag). An
      // attempt that failed and awaits the loop's retry decision still reads as running in
      // this trace (protocol v1 has no event for it); attemptEndedAt says when it ended.
      // Under protocol 2 a failed attempt awaiting its retry decision is already reported
      // (retrying), so only running work gets the event.
      const awaiting = item.pendingRetry && this.protocol !== 2;
      // The loop may handle one request on several passes: one event per attempt.
      const again = item.cancelRequestedFor === item.started;
      if (item.started > 0 && !item.ended && !again && (item.running || awaiting)) {
        item.cancelRequested = item.cancelRequested || item.running;
        item.cancelRequestedFor = item.started;
        this.emit("cancel_requested", pool, key, {
          attempt: item.started,
          ...(item.pendingRetry ? { attemptEndedAt: item.pendingRetry.t } : {}),
          ...extra,
        });
      }
    } else if (name === "complete") {
      const result = data.runResult;
      if (result.kind === "failed" && data.retry) {
        // The attempt failed and the component will retry it: the status reads pending from
        // now, but the delay is drawn by the loop when it handles the completion (retryDrawn),
        // or no retry happens if a cancel is processed first.
        item.pendingRetry = {
          t: this.vnow(),
          attempt: data.attempts,
          error: result.error,
          // A cancel requested while it ran: the spec stops the retry there (CAN-6).
          afterCancel: item.cancelRequested === true,
        };
        item.running = false;
        return;
      }
      const failed = item.pendingRetry;
      item.pendingRetry = null;
      item.running = false;
      item.ended = true;
      if (result.kind === "success") {
        this.emit("succeeded", pool, key, {
          attempt: data.attempts,
          result: result.returnValue ?? null,
          ...extra,
        });
      } else if (result.kind === "failed") {
        this.emit("failed", pool, key, {
          attempt: data.attempts,
          error: result.error,
          ...("errorData" in result ? { errorData: result.errorData } : {}),
          ...extra,
        });
      } else {
        if (failed && this.protocol === 2 && !failed.afterCancel) {
          // The attempt failed with a retry to come, but the loop handled the cancel before it
          // decided the retry: reported at the failure, never decided (protocol 2).
          this.emit(
            "retrying",
            pool,
            key,
            { attempt: failed.attempt, error: failed.error, delayMs: null, retryAt: null, decidedAt: null },
            failed.t,
          );
        }
        // An attempt that failed after its cancel was requested ended the item there: the
        // loop frees its slot when it handles the failure (and may start the next item in
        // that pass), before this completion runs, so it is reported at the failure.
        const endedAt = failed?.afterCancel ? failed.t : this.vnow();
        this.emit(
          "canceled",
          pool,
          key,
          {
            attempt: item.started,
            wasRunning: failed !== null && (this.protocol !== 2 || failed.afterCancel),
            ...(failed && (this.protocol !== 2 || failed.afterCancel)
              ? { error: failed.error, failedAt: failed.t }
              : {}),
            ...extra,
          },
          endedAt,
        );
      }
    } else if (name === "retryDrawn") {
      const failed = item.pendingRetry;
      item.pendingRetry = null;
      const retryAt = Math.floor(data.startTime) - EPOCH;
      const delayMs = Math.floor(data.delayMs);
      item.eligibleAt = retryAt;
      // Reported at the failure's instant, with the delay and retry time the component chose
      // when its loop drew the delay (drawnAt), so retryAt - t shows the loop's latency.
      this.emit(
        "retrying",
        pool,
        key,
        {
          attempt: data.attempts,
          error: failed?.error ?? null,
          delayMs,
          retryAt,
          delayMsExact: data.delayMs,
          // The component's clock when it drew (startTime = its now + the delay).
          ...(this.protocol === 2
            ? { decidedAt: Math.max(failed?.t ?? 0, Math.round(data.startTime - data.delayMs) - EPOCH) }
            : { drawnAt: this.vnow() }),
          eligibleAt: Math.floor(data.startTime / 100) * 100 - EPOCH,
          ...extra,
        },
        failed?.t ?? this.vnow(),
      );
    }
  }

  newItem(key) {
    const item = { started: 0, running: false, ended: false, eligibleAt: 0, pendingRetry: null };
    this.items.set(key, item);
    return item;
  }

  // ── Calls ──────────────────────────────────────────────────────────────────────────────

  requireScenario() {
    if (!this.scenario) throw new AdapterError("ScenarioError", "call reset with a scenario first");
  }

  pool(name) {
    const pool = this.pools.get(String(name));
    if (!pool) throw new AdapterError("ScenarioError", `no pool named ${JSON.stringify(name)}`);
    return pool;
  }

  /** The component's document id for a protocol id ("<pool>/<docId>"); other strings as is. */
  docId(id, pool) {
    const text = String(id);
    const slash = text.indexOf("/");
    if (slash > 0 && this.pools.has(text.slice(0, slash))) {
      const doc = text.slice(slash + 1);
      // Another pool's id: under convex-test the same document id may name one of this
      // pool's own documents, which a deployment (each component with its own tables) cannot
      // have. An id of the same table that no document has keeps the call as it would be.
      if (pool !== undefined && text.slice(0, slash) !== pool) return doc.replace(/[0-9]/g, "9");
      return doc;
    }
    return text;
  }

  async call(step) {
    this.requireScenario();
    try {
      return await this.perform(step);
    } catch (error) {
      return { error: errorOf(error) };
    }
  }

  async perform(step) {
    const op = step.op;
    if (op === "advance") throw new AdapterError("ScenarioError", "advance is its own method");
    const pool = this.pool(step.pool);
    const client = pool.client;
    if (op === "enqueue" || op === "enqueueBatch") return this.enqueue(pool, step);
    if (op === "cancel") {
      await this.t.mutation(async (ctx) => client.cancel(ctx, this.docId(step.id, step.pool)));
      return {};
    }
    if (op === "cancelAll") {
      const options = step.limit != null ? { limit: step.limit } : undefined;
      await this.t.mutation(async (ctx) => client.cancelAll(ctx, options));
      return {};
    }
    if (op === "status") {
      const status = await this.t.query(async (ctx) => client.status(ctx, this.docId(step.id, step.pool)));
      return { status };
    }
    if (op === "configure") {
      const changes = {};
      if ("maxParallelism" in step) changes.maxParallelism = step.maxParallelism;
      if ("logLevel" in step) changes.logLevel = step.logLevel;
      await this.t.mutation(async (ctx) => ctx.runMutation(pool.component.config.update, changes));
      // The app's client follows the new configuration, as an app that configures its pool at
      // runtime would: the client sends maxParallelism and logLevel with every enqueue, which
      // would otherwise put the constructor's values back (reference B.1).
      client.options = { ...client.options, ...changes };
      this.emit("config_updated", pool.name, null, this.poolOptions(pool.name));
      return {};
    }
    throw new AdapterError("ScenarioError", `unknown op ${JSON.stringify(op)}`);
  }

  async enqueue(pool, step) {
    const fn = this.functions.get(String(step.fn));
    if (!fn) throw new AdapterError("UnknownFunction", `no function named ${JSON.stringify(step.fn)}`);
    const kind = fn.spec.kind;
    const given = step.options ?? {};
    const options = { name: fn.name };
    if ("retry" in given) {
      options.retry =
        typeof given.retry === "object" && given.retry !== null
          ? { ...DEFAULT_RETRY, ...given.retry }
          : given.retry;
    }
    if ("runAt" in given) options.runAt = EPOCH + given.runAt;
    if ("runAfter" in given) options.runAfter = given.runAfter;
    if ("onComplete" in given) {
      const handler = this.functions.get(String(given.onComplete));
      if (!handler || handler.spec.kind !== "mutation") {
        throw new AdapterError(
          "InvalidArgument",
          `onComplete ${JSON.stringify(given.onComplete)} is not a declared mutation`,
        );
      }
      options.onComplete = makeFunctionReference(`oc:${pool.name}__${handler.exportName}`);
    }
    if ("context" in given) options.context = given.context;
    const ref = makeFunctionReference(`fns:${fn.exportName}`);
    const method = { action: "Action", mutation: "Mutation", query: "Query" }[kind];
    const batch = step.op === "enqueueBatch";
    const client = pool.client;
    const ids = await this.t.mutation(async (ctx) =>
      batch
        ? client[`enqueue${method}Batch`](ctx, ref, step.argsList, options)
        : [await client[`enqueue${method}`](ctx, ref, step.args ?? {}, options)],
    );
    const qualified = [];
    const now = this.vnow();
    for (const id of ids) {
      const key = `${pool.name}/${id}`;
      const facts = this.enqueueFacts.get(key);
      const runAt = facts ? Math.floor(facts.runAt) - EPOCH : this.vnow();
      const item = this.items.get(key) ?? this.newItem(key);
      item.eligibleAt = runAt;
      const data = { fn: fn.name, kind, runAt };
      const requested =
        "runAt" in given ? given.runAt : "runAfter" in given ? now + given.runAfter : runAt;
      if (requested !== runAt) data.requestedRunAt = requested;
      data.retry = facts ? facts.retry : null;
      data.onComplete = "onComplete" in given ? String(given.onComplete) : null;
      this.emit("enqueued", pool.name, key, data);
      qualified.push(key);
    }
    return batch ? { ids: qualified } : { id: qualified[0] };
  }

  // ── Advance ────────────────────────────────────────────────────────────────────────────

  async advance(ms) {
    this.requireScenario();
    if (!Number.isInteger(ms) || ms < 0) {
      throw new AdapterError("InvalidArgument", `advance ms must be an integer >= 0, got ${ms}`);
    }
    const target = EPOCH + this.vnow() + ms;
    await settle();
    let instant = null;
    let atInstant = 0;
    for (;;) {
      if (this.closed) throw new AdapterError("Closed", "the connection closed");
      if (this.broken) throw new AdapterError("AdapterBug", this.broken);
      const next = this.nextTimerAt();
      if (next === null || next > target) break;
      atInstant = next === instant ? atInstant + 1 : 1;
      instant = next;
      if (atInstant > MAX_TIMERS_PER_INSTANT) {
        throw new AdapterError(
          "Livelock",
          `more than ${MAX_TIMERS_PER_INSTANT} timers fired at t=${next - EPOCH} ms`,
        );
      }
      this.clock.next(); // fires exactly the first due timer
      await settle();
      await settle();
    }
    if (this.broken) throw new AdapterError("AdapterBug", this.broken);
    if (target > this.clock.now) this.clock.tick(target - this.clock.now);
    return { now: this.vnow(), events: this.drain() };
  }

  /** Events emitted by calls are reported by the next advance; nothing else to release. */
  close() {
    this.closed = true;
  }
}
