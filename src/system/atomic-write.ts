/**
 * Private files replaced atomically: configuration files (which hold private keys), client configs,
 * exports. The data goes to a temporary file beside the target, then rename(2) puts it in place, so
 * a reader or a crash sees the old file or the new one, never a mix, and a failure before the rename
 * leaves the target as it was.
 *
 * The temporary file is created O_EXCL|O_NOFOLLOW: a symlink (or any file) planted at its name is
 * never followed or written through, which a plain open(2) with O_CREAT|O_TRUNC would do. Its mode
 * is exactly 0600 whatever the umask. File and directory are fsync'd, so the rename is durable too.
 *
 * writeFileAtomicSync is the same write for a caller that must not yield to the event loop between
 * deciding to write and the write being on disk (the undo journal of `wgts quick`).
 */
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface StagedFile {
  /** Renames the staged file over its target and syncs the directory. */
  commit(): Promise<void>;
  /** Removes the staged file if it is still there; the target is untouched. Never throws. */
  abort(): Promise<void>;
}

export interface StageOptions {
  /** The temporary file's name (default: hidden beside the target, one per process). */
  tmp?: string;
  /**
   * Give the new file this mode and owner instead of 0600 and ours: replacing a file another
   * program reads (a zone file for the DNS server) keeps what its administrator set.
   */
  like?: { mode: number; uid: number; gid: number };
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates `tmp` as a new file of our own. One left over from an interrupted run is unlinked (the
 * name, never what a link points to) and creation is tried once more; losing that race again fails.
 */
async function createExclusive(tmp: string): Promise<FileHandle> {
  try {
    return await open(tmp, CREATE_FLAGS, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await unlink(tmp);
    return await open(tmp, CREATE_FLAGS, 0o600);
  }
}

/** createExclusive, synchronously. */
function createExclusiveSync(tmp: string): number {
  try {
    return openSync(tmp, CREATE_FLAGS, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    unlinkSync(tmp);
    return openSync(tmp, CREATE_FLAGS, 0o600);
  }
}

/** The mode the new file gets: exact, since the umask could have taken bits away. */
function fileMode(like: StageOptions['like']): number {
  return like ? like.mode & 0o7777 : 0o600;
}

/** The default temporary name: hidden, beside the target, one per process. */
function defaultTmp(path: string): string {
  return join(dirname(path), `.${basename(path)}.wgts-${process.pid}.tmp`);
}

/**
 * Writes `data` to a 0600 temporary file beside `path` (see StageOptions), synced; nothing is
 * visible at `path` until commit(). On failure the temporary file, if this call created it, is
 * removed and the error rethrown.
 */
export async function stageFile(path: string, data: Uint8Array | string, options: StageOptions = {}): Promise<StagedFile> {
  const { tmp = defaultTmp(path), like } = options;
  const fh = await createExclusive(tmp);
  try {
    await fh.chmod(fileMode(like));
    if (like) await fh.chown(like.uid, like.gid);
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fh.close();
  let pending = true;
  return {
    async commit() {
      await rename(tmp, path);
      pending = false;
      // Some filesystems refuse fsync on a directory; the rename itself has happened either way.
      const dir = await open(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
      await dir?.sync().catch(() => undefined);
      await dir?.close().catch(() => undefined);
    },
    async abort() {
      if (pending) await rm(tmp, { force: true }).catch(() => undefined);
      pending = false;
    },
  };
}

/** stageFile then commit: `path` holds `data` (0600 unless `like`), or on error is unchanged. */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: StageOptions = {}): Promise<void> {
  const staged = await stageFile(path, data, options);
  try {
    await staged.commit();
  } catch (e) {
    await staged.abort();
    throw e;
  }
}

/** writeFileAtomic without yielding: when it returns, `path` holds `data` durably (or it threw, unchanged). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, options: StageOptions = {}): void {
  const { tmp = defaultTmp(path), like } = options;
  const fd = createExclusiveSync(tmp);
  let fdOpen = true;
  try {
    fchmodSync(fd, fileMode(like));
    if (like) fchownSync(fd, like.uid, like.gid);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    fsyncSync(fd);
    fdOpen = false;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    if (fdOpen) closeSync(fd);
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the error that matters is the one rethrown
    }
    throw e;
  }
  syncDirectorySync(dirname(path));
}

/** Some filesystems refuse fsync on a directory; the rename itself has happened either way. */
function syncDirectorySync(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // see above
  } finally {
    closeSync(fd);
  }
}
