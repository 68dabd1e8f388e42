/**
 * Interface names and indexes as this network namespace's sysfs shows them (/sys/class/net/NAME/
 * ifindex): one read, no netlink round trip, for the endpoint scope of wg's sockaddr text and for
 * `quick`'s check that its state file belongs to the link that now has the name. The data plane
 * asks libc (if_nametoindex) through its own FFI edge instead, as its workers already load it.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** The ifindex of a link by name; undefined when there is no such link. */
export function ifindexOfName(name: string): number | undefined {
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The name of a link by ifindex; undefined when none has it (or there is no sysfs). */
export function ifnameOfIndex(index: number): string | undefined {
  try {
    for (const name of readdirSync('/sys/class/net')) if (ifindexOfName(name) === index) return name;
  } catch {
    /* no sysfs: the caller prints the number */
  }
  return undefined;
}
