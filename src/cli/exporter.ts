/**
 * `wgts exporter [--listen ADDR:PORT] [IFACE...]`: serves peer metrics for Prometheus
 * (metrics/exposition.ts) over HTTP (metrics/http-server.ts) until SIGINT/SIGTERM. Each scrape
 * reads the interfaces afresh through whichever backend serves them (kernel or UAPI); friendly
 * names come from the tunnel's config, re-read only when the file changes.
 */
import type { Command } from './command.js';
import { parseFlags, UsageError, withUsage } from './flags.js';
import { errorText, getDevice, listDevices } from '../system/ipc.js';
import { readTunnelConfig } from './tunnel-config.js';
import { WgError } from '../conf/backend.js';
import { ENODEV, EPROTONOSUPPORT } from '../conf/errno.js';
import { wipeDevice } from '../conf/model.js';
import { parseIP } from '../conf/ip.js';
import { friendlyName, readSections, valueOf } from '../conf/config-lines.js';
import { keyFromBase64, keyToBase64 } from '../conf/keys.js';
import { CONTENT_TYPE, renderMetrics, type DeviceMetrics } from '../metrics/exposition.js';
import { startMetricsServer } from '../metrics/http-server.js';

/** prometheus_wireguard_exporter's port (the Prometheus default-port allocations list); loopback unless asked. */
export const DEFAULT_LISTEN = '127.0.0.1:9586';

function usage(argv0: string): string {
  return `Usage: ${argv0} exporter [--listen <address>:<port>] [<interface>...]\n`;
}

/** `a.b.c.d:port` or `[v6]:port`, numeric only. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !parseIP(host) || (m[1] !== undefined) !== host.includes(':') || port < 1 || port > 65535) {
    throw new UsageError(`--listen: \`${text}' is not <IPv4 address>:<port> or [<IPv6 address>]:<port>`);
  }
  return { host, port };
}

/** Friendly names per config file, kept while the file's mtime and size stay the same. */
const nameCache = new Map<string, { version: string; names: Map<string, string> }>();

async function friendlyNames(ifname: string): Promise<Map<string, string>> {
  const conf = await readTunnelConfig(ifname);
  if (!conf) return new Map();
  const cached = nameCache.get(conf.path);
  if (cached?.version === conf.version) return cached.names;
  const names = new Map<string, string>();
  for (const s of readSections(conf.text)) {
    const name = s.kind === 'peer' ? friendlyName(s) : undefined;
    const key = name === undefined ? null : keyFromBase64(valueOf(s, 'PublicKey')?.value.replace(/\s+/g, '') ?? '');
    if (key && name !== undefined) names.set(keyToBase64(key), name);
  }
  nameCache.set(conf.path, { version: conf.version, names });
  return names;
}

async function collect(ifnames: readonly string[]): Promise<string> {
  const names = ifnames.length > 0 ? ifnames : await listDevices();
  const devices: DeviceMetrics[] = [];
  try {
    for (const name of names) {
      let device;
      try {
        device = await getDevice(name);
      } catch (e) {
        // An interface named on the command line may come and go (wg-quick down/up): no series, no
        // error. Without the kernel module (EPROTONOSUPPORT) no kernel interface can exist either.
        if (e instanceof WgError && (e.errno === ENODEV || e.errno === EPROTONOSUPPORT)) continue;
        throw new Error(`Unable to access interface ${name}: ${errorText(e)}`, { cause: e });
      }
      devices.push({ device, names: await friendlyNames(name) });
    }
    return renderMetrics(devices);
  } finally {
    for (const d of devices) wipeDevice(d.device);
  }
}

export const exporterCommand: Command = {
  name: 'exporter',
  run: (argv0, args) =>
    withUsage(argv0, 'exporter', usage(argv0), async () => {
      const { values, positionals } = parseFlags(args, { listen: { type: 'string', short: 'l' }, help: { type: 'boolean', short: 'h' } });
      if (values.help) {
        process.stdout.write(usage(argv0));
        return 0;
      }
      const { host, port } = parseListen(values.listen ?? DEFAULT_LISTEN);
      let server;
      try {
        server = await startMetricsServer({
          host,
          port,
          contentType: CONTENT_TYPE,
          collect: () => collect(positionals),
          onError: (message) => process.stderr.write(`${argv0} exporter: ${message}\n`),
        });
      } catch (e) {
        process.stderr.write(`${argv0} exporter: cannot listen on ${values.listen ?? DEFAULT_LISTEN}: ${(e as Error).message}\n`);
        return 1;
      }
      const shown = host.includes(':') ? `[${host}]` : host;
      process.stderr.write(`${argv0} exporter: serving http://${shown}:${port}/metrics\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          server.close(() => resolve());
          server.closeAllConnections();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return 0;
    }),
};
