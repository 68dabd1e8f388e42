/**
 * `wgts registry export`: publishes the registry's records (published.ts) into an authoritative
 * DNS server, so its secondaries can serve a fleet: as a zone file the server loads (then the
 * user's reload command, only when the file changed), and/or as RFC 2136 updates carrying only
 * what changed since the last pass. A failed reload is retried at the next pass, and so is one
 * that ran past RELOAD_TIMEOUT_MS (it is stopped, so a hanging server cannot stall the loop); after a
 * failed update the next pass replaces the whole record set, since what the server holds is then
 * unknown.
 */
import type { WgPeer } from '../conf/model.js';
import type { Answer } from './wire.js';
import { publishedRecords } from './published.js';
import { writeZoneFile, type ZoneApex } from './zone-file.js';
import { diffRecords, replaceAll, sendUpdates } from './dns-update.js';
import type { TsigKey } from './tsig.js';
import { queryDns, type DnsServerAddress } from './client.js';
import { serviceName } from './zone.js';
import { query } from '../system/run.js';

export interface ExportOptions {
  zone: string;
  /** TTL of the published records. */
  ttl: number;
  /** Names the source in the zone file's marker line (the interface). */
  source: string;
  getPeers: () => Promise<WgPeer[]>;
  /** `reloadTimeoutMs`: RELOAD_TIMEOUT_MS unless given (tests). */
  zoneFile?: { path: string; apex: ZoneApex; reload?: string; reloadTimeoutMs?: number };
  update?: { server: DnsServerAddress; key?: TsigKey; timeoutMs: number };
  log: (msg: string) => void;
}

export interface Exporter {
  /** One export pass; throws (after doing what it could) if the file, the reload or an update failed. */
  pass(): Promise<void>;
}

/** A reload command still running after this long is stopped and counts as failed. */
export const RELOAD_TIMEOUT_MS = 30_000;

async function runReload(command: string, timeoutMs: number): Promise<void> {
  const r = await query(['/bin/sh', '-c', command], { timeoutMs });
  if (r.timedOut) throw new Error(`reload command \`${command}' did not finish within ${timeoutMs / 1000} s: stopped`);
  if (r.exitCode !== 0) {
    const said = r.stderr.trim().split('\n').slice(-3).join(' / ');
    throw new Error(`reload command \`${command}' failed (exit status ${r.exitCode})${said ? `: ${said}` : ''}`);
  }
}

/** The instance names the server lists under the service now (a first update removes them). */
async function listedInstances(server: DnsServerAddress, zone: string, timeoutMs: number): Promise<string[]> {
  const msg = await queryDns(server, serviceName(zone), 'PTR', { timeoutMs });
  return (msg.answers ?? []).flatMap((a) => (a.type === 'PTR' && typeof a.data === 'string' ? [a.data] : []));
}

export function makeExporter(opts: ExportOptions): Exporter {
  let reloadPending = false;
  let sent: Answer[] | null = null;
  return {
    async pass() {
      const records = publishedRecords(await opts.getPeers(), opts.zone, opts.ttl);
      const peers = records.filter((r) => r.type === 'SRV').length;
      const errors: string[] = [];
      if (opts.zoneFile) {
        const { path, apex, reload, reloadTimeoutMs = RELOAD_TIMEOUT_MS } = opts.zoneFile;
        try {
          const r = await writeZoneFile(path, apex, records, opts.source);
          if (r.changed) opts.log(`wrote ${path} (serial ${r.serial}, ${peers} peers with an endpoint)`);
          if (reload && (r.changed || reloadPending)) {
            reloadPending = true;
            await runReload(reload, reloadTimeoutMs);
            reloadPending = false;
          }
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      if (opts.update) {
        const u = opts.update;
        try {
          const ops = sent ? diffRecords(sent, records) : replaceAll(serviceName(opts.zone), await listedInstances(u.server, opts.zone, u.timeoutMs), records);
          if (ops.length > 0) {
            const first = sent === null;
            sent = null; // unknown until the server has accepted every message
            const n = await sendUpdates({ server: u.server, zone: opts.zone, key: u.key, timeoutMs: u.timeoutMs }, ops);
            opts.log(`updated ${opts.zone} (${first ? 'all records' : `${ops.length} changes`}, ${n} message${n === 1 ? '' : 's'}, ${peers} peers with an endpoint)`);
          }
          sent = records;
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      if (errors.length) throw new Error(errors.join('; '));
    },
  };
}
