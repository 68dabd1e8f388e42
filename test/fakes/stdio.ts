/** Captures what a command writes to process.stdout and process.stderr, for in-process CLI tests. */
import { vi } from 'vitest';

/** Runs `run` with stdout and stderr writes captured (and restored after, even on a throw). */
export async function captureStdio(run: () => Promise<number>): Promise<{ out: string; err: string; rc: number }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const rc = await run();
    return { out, err, rc };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
