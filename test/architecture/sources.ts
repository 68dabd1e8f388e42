/** The tree the architecture tests read: repository root, src/, and every .ts file below a folder. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SRC = join(ROOT, 'src');

/** Every .ts file below `dir`, recursively. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every src file as the rules see it: `cli/show` and its text. */
export function srcSources(): { mod: string; text: string }[] {
  return tsFiles(SRC).map((f) => ({ mod: relative(SRC, f).replace(/\.ts$/, ''), text: readFileSync(f, 'utf8') }));
}
