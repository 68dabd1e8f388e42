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
 * after a failure. Deleting a namespace deletes the links in it, and a userspace WireGuard daemon
 * (wireguard-go, wgts-userspace) exits when its TUN disappears.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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
    const ns = new Netns(`${this.prefix}-${this.tag}-${this.namespaces.length}`, this);
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

  /** Kills spawned processes, runs deferred steps, deletes the namespaces. Never throws. */
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
    for (const ns of this.namespaces.reverse()) {
      await run(['ip', 'netns', 'del', ns.name], { check: false });
    }
    this.namespaces.length = 0;
    this.procs.length = 0;
    this.deferred.length = 0;
  }
}
