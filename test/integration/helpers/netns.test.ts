/**
 * The labs' namespace removal: every process in a namespace ends before it is deleted (one that
 * ignores SIGTERM too), and the sweep takes the namespaces of runs that died, never those of a live
 * run or namespaces that are not the tests'.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { LAB_NETNS_PREFIX, labNetnsName, removeNetns, run, sweepLabNamespaces, waitFor } from './netns.js';

const root = process.getuid?.() === 0;

async function namespaces(): Promise<string[]> {
  return (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!);
}

/** Starts `sleep` in namespace `name`, detached from us (as a daemonized daemon is); returns its pid. */
async function sleeperIn(name: string, ignoreTerm = false): Promise<number> {
  const script = `${ignoreTerm ? "trap '' TERM; " : ''}exec sleep 600`;
  const child = spawn('ip', ['netns', 'exec', name, 'setsid', 'bash', '-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  await waitFor(async () => (await run(['ip', 'netns', 'pids', name])).stdout.trim() !== '', { what: `a process in ${name}` });
  return Number((await run(['ip', 'netns', 'pids', name])).stdout.trim().split('\n')[0]);
}

function alive(pid: number): boolean {
  // A zombie (ended, not yet reaped) counts as gone.
  const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return stat !== '' && !stat.startsWith('Z');
}

/** A pid no process has now: that of a process that ended. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

describe.skipIf(!root)('lab namespaces', () => {
  const made: string[] = [];
  const add = async (name: string) => {
    await run(['ip', 'netns', 'add', name]);
    made.push(name);
    return name;
  };
  afterAll(async () => {
    for (const name of made) await removeNetns(name);
  });

  it('removeNetns ends every process in the namespace first, SIGKILL for one that ignores SIGTERM', async () => {
    const name = await add(labNetnsName(`t-${process.pid}-a`));
    const polite = await sleeperIn(name);
    const stubborn = await sleeperIn(name, true);
    await removeNetns(name);
    expect(await namespaces()).not.toContain(name);
    await waitFor(() => !alive(polite) && !alive(stubborn), { what: 'both processes gone' });
  });

  it('the sweep removes the namespaces of a dead run, with their processes, and nothing else', async () => {
    const dead = deadPid();
    const stale = await add(`${LAB_NETNS_PREFIX}${dead}-t-stale`);
    const orphan = await sleeperIn(stale);
    const live = await add(`${LAB_NETNS_PREFIX}${process.pid}-t-live`); // a run that is still going
    const other = await add(`wgtsx-${dead}-t-other`); // not the tests' prefix
    expect(await sweepLabNamespaces()).toContain(stale);
    const left = await namespaces();
    expect(left).not.toContain(stale);
    expect(left).toEqual(expect.arrayContaining([live, other]));
    await waitFor(() => !alive(orphan), { what: 'the orphan gone' });
  });
});
