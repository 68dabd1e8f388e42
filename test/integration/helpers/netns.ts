/**
 * Network-namespace fixtures for integration tests (shared: any area may import it).
 *
 *   const lab = new Lab('wgd');                       // one per test file; lab.cleanup() in afterAll
 *   const a = await lab.netns();                      // `ip netns add wgd-xxxxxx-0`, lo up
 *   const b = await lab.netns();
 *   await lab.veth(a, '10.99.0.1/24', b, '10.99.0.2/24', { v6: ['fd99::1/64', 'fd99::2/64'] });
 *   await a.run(['ping', '-c1', '10.99.0.2']);         // throws RunError on non-zero exit
 *   const r = await a.run(['wg', 'show'], { check: false });  // {code, stdout, stderr}
 *   const p = a.spawn(['tcpdump', ...]);              // long-running; killed by lab.cleanup()
 *   await waitFor(async () => (await a.run(['wg', 'show', 'x', 'endpoints'])).stdout.includes(':1'),
 *                 { timeout: 5000, what: 'endpoint update' });
 *   lab.ifname('a')                                   // unique interface name 'wgd' + random, ≤ 15 chars
 *
 * Everything a Lab creates (namespaces, processes spawned through it, extra cleanups registered with
 * `lab.defer(fn)`) is destroyed by `lab.cleanup()`, which never throws, so call it in afterAll even
 * after a failure. Before a namespace is deleted every process still in it is ended (SIGTERM, then
 * SIGKILL): a process keeps its namespace alive after `ip netns del`, and a daemon started
 * indirectly (by `wgts quick up`, by a daemonizing launcher) is no child of ours.
 *
 * Every namespace a test makes, here or in another lab, is named by labNetnsName():
 * `wgts-test-<run>-…`, <run> being the pid of the vitest run that made it (test/setup/namespaces.ts
 * exports it to the workers). That run sweeps its own at the end, so a worker killed on a timeout
 * leaves none, and the next run sweeps those of runs that died; runs alive in other checkouts, and
 * namespaces that are not the tests', are never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Throw RunError on a non-zero exit (default true). */
  check?: boolean;
  /** Text written to stdin. */
  input?: string;
  /** Extra environment variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Kill after this many ms (default 30 s) and fail. */
  timeout?: number;
  cwd?: string;
}

export class RunError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`command failed (${result.code}): ${argv.join(' ')}\n${result.stderr}${result.stdout}`);
  }
}

function mergeEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Runs a command (argv, no shell) and collects its output. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: mergeEnv(opts.env),
      cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n[killed after ${opts.timeout ?? 30_000} ms]`;
    }, opts.timeout ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if ((opts.check ?? true) && result.code !== 0) reject(new RunError(argv, result));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Polls `fn` until it returns a truthy value (returned) or the deadline passes (throws, naming `what`). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeout?: number; interval?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeout ?? 10_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.interval ?? 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Namespace names and removal, shared by every lab (this one, test/integration/quick/harness.ts,
// test/integration/registry/lab.ts).
// ---------------------------------------------------------------------------------------------

export const LAB_NETNS_PREFIX = 'wgts-test-';
/** Set by test/setup/namespaces.ts in the vitest run (and so in its workers). */
export const LAB_RUN_ENV = 'WGTS_TEST_RUN';
const LAB_NETNS_NAME = new RegExp(`^${LAB_NETNS_PREFIX}(\\d+)-`);

/** The run that owns the namespaces this process makes: the vitest run, else this process. */
function labRun(): string {
  return process.env[LAB_RUN_ENV] || String(process.pid);
}

/** The name of a namespace a test makes: `wgts-test-<run>-<suffix>`. */
export function labNetnsName(suffix: string): string {
  return `${LAB_NETNS_PREFIX}${labRun()}-${suffix}`;
}

/** Bounds of the end of a namespace's processes: SIGTERM, this long to exit, then SIGKILL. */
const TERM_GRACE_MS = 3000;
const KILL_GRACE_MS = 3000;

function parsePids(text: string): number[] {
  // Never ourselves or our parent, whatever a broken namespace would claim.
  return text
    .split('\n')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 1 && pid !== process.pid && pid !== process.ppid);
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }
}

/** The processes in namespace `name` (`ip netns pids`); none when it does not exist. */
async function netnsPids(name: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', name], { check: false }).catch(() => ({ stdout: '' }));
  return parsePids(r.stdout);
}

/** Ends every process in namespace `name`, then deletes it. Never throws. */
export async function removeNetns(name: string): Promise<void> {
  const gone = async () => (await netnsPids(name)).length === 0;
  signalAll(await netnsPids(name), 'SIGTERM');
  if (!(await waitFor(gone, { timeout: TERM_GRACE_MS }).catch(() => false))) {
    signalAll(await netnsPids(name), 'SIGKILL');
    await waitFor(gone, { timeout: KILL_GRACE_MS }).catch(() => false);
  }
  await run(['ip', 'netns', 'del', name], { check: false }).catch(() => undefined);
}

/** removeNetns for synchronous code (test/integration/quick/harness.ts): the same steps, blocking. */
export function removeNetnsSync(name: string): void {
  const pids = () => parsePids(spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const waitGone = (ms: number): boolean => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (pids().length === 0) return true;
      if (Date.now() > deadline) return false;
      Atomics.wait(nap, 0, 0, 50); // a blocking 50 ms pause between polls
    }
  };
  signalAll(pids(), 'SIGTERM');
  if (!waitGone(TERM_GRACE_MS)) {
    signalAll(pids(), 'SIGKILL');
    waitGone(KILL_GRACE_MS);
  }
  spawnSync('ip', ['netns', 'del', name]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the tests' namespaces (labNetnsName) whose run has ended, and those of run `ended` (the
 * calling run, at its end). Returns their names.
 */
export async function sweepLabNamespaces(ended?: string): Promise<string[]> {
  const list = await run(['ip', 'netns', 'list'], { check: false });
  const stale = list.stdout
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => {
      const owner = LAB_NETNS_NAME.exec(name)?.[1];
      return owner !== undefined && (owner === ended || !alive(Number(owner)));
    });
  for (const name of stale) await removeNetns(name);
  return stale;
}

/** A network namespace. Commands run in it through `ip netns exec`. */
export class Netns {
  constructor(
    readonly name: string,
    private readonly lab: Lab,
  ) {}

  /** argv prefixed with `ip netns exec NAME`. */
  argv(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...argv];
  }

  run(argv: string[], opts?: RunOptions): Promise<RunResult> {
    return run(this.argv(argv), opts);
  }

  /** Runs a bash script in the namespace. */
  sh(script: string, opts?: RunOptions): Promise<RunResult> {
    return run(this.argv(['bash', '-c', script]), opts);
  }

  /** Starts a long-running process in the namespace; the lab kills it on cleanup. */
  spawn(argv: string[], opts: { env?: Record<string, string | undefined> } = {}): Spawned {
    return this.lab.spawn(this.argv(argv), opts);
  }

  /** `ip -n NAME args...` */
  ip(args: string[], opts?: RunOptions): Promise<RunResult> {
    return run(['ip', '-n', this.name, ...args], opts);
  }
}

/** A process started by the lab, with its output collected. */
export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

export class Lab {
  private readonly tag: string;
  private count = 0;
  private readonly namespaces: Netns[] = [];
  private readonly procs: Spawned[] = [];
  private readonly deferred: Array<() => Promise<unknown> | unknown> = [];

  /** `prefix` is the area's interface prefix (wgd, wgm...), also used for namespace names. */
  constructor(readonly prefix: string) {
    this.tag = randomBytes(3).toString('hex');
  }

  /** A fresh interface name: prefix + 6 random hex + a counter, at most 15 characters. */
  ifname(hint = ''): string {
    const name = `${this.prefix}${randomBytes(3).toString('hex')}${hint}${this.count++}`;
    return name.slice(0, 15);
  }

  async netns(): Promise<Netns> {
    const ns = new Netns(labNetnsName(`${this.prefix}-${this.tag}-${this.namespaces.length}`), this);
    await run(['ip', 'netns', 'add', ns.name]);
    this.namespaces.push(ns);
    await ns.ip(['link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * A veth pair between two namespaces with the given IPv4 prefixes (and optional IPv6), both up.
   * Returns the two link names.
   */
  async veth(
    a: Netns,
    aAddr: string,
    b: Netns,
    bAddr: string,
    opts: { v6?: [string, string] } = {},
  ): Promise<[string, string]> {
    const an = this.ifname('v');
    const bn = this.ifname('v');
    await run(['ip', 'link', 'add', an, 'netns', a.name, 'type', 'veth', 'peer', 'name', bn, 'netns', b.name]);
    await a.ip(['addr', 'add', aAddr, 'dev', an]);
    await b.ip(['addr', 'add', bAddr, 'dev', bn]);
    if (opts.v6) {
      await a.ip(['addr', 'add', opts.v6[0], 'dev', an, 'nodad']);
      await b.ip(['addr', 'add', opts.v6[1], 'dev', bn, 'nodad']);
    }
    await a.ip(['link', 'set', an, 'up']);
    await b.ip(['link', 'set', bn, 'up']);
    return [an, bn];
  }

  spawn(argv: string[], opts: { env?: Record<string, string | undefined> } = {}): Spawned {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: mergeEnv(opts.env) });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number>((resolve) => {
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
      child.on('error', () => resolve(127));
    });
    const s: Spawned = {
      child,
      stdout: () => out,
      stderr: () => err,
      exited,
      kill: (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
    this.procs.push(s);
    return s;
  }

  /** Registers a cleanup step (run in reverse order, before namespaces are deleted). */
  defer(fn: () => Promise<unknown> | unknown): void {
    this.deferred.push(fn);
  }

  /**
   * Kills spawned processes, runs deferred steps (which may still need the namespaces), then ends
   * what is left in each namespace and deletes it. Never throws.
   */
  async cleanup(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])));
    for (const fn of this.deferred.reverse()) {
      try {
        await fn();
      } catch {
        // Best effort.
      }
    }
    for (const ns of this.namespaces.reverse()) await removeNetns(ns.name);
    this.namespaces.length = 0;
    this.procs.length = 0;
    this.deferred.length = 0;
  }
}
