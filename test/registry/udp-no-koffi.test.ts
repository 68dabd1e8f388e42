/**
 * Without system/libc.ts (koffi cannot load: no prebuilt binary for the platform), the registry
 * serves UDP through node:dgram on the main thread, and says so once.
 */
import * as dgram from 'node:dgram';
import { expect, it, vi } from 'vitest';
import { encodeMessage, decodeMessage } from '../../src/registry/wire.js';
import { serviceName } from '../../src/registry/zone.js';

// The module that loads koffi fails to import, as it would without koffi's binary.
vi.mock('../../src/registry/udp-batched.js', () => {
  throw new Error('Cannot find module koffi');
});

it('serves UDP through dgram when the batched path cannot load', async () => {
  const { startRegistryServer } = await import('../../src/registry/server.js');
  const logs: string[] = [];
  const peers = [{ publicKey: new Uint8Array(32).fill(1), endpoint: { family: 4 as const, host: '192.0.2.1', port: 1 }, allowedIps: [] }];
  const server = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: 'example.org', getPeers: async () => peers, log: (m) => logs.push(m) });
  try {
    expect(server.udpWorkerAnswers()).toBeNull();
    expect(logs).toEqual([expect.stringMatching(/^registry: answering UDP on the main thread: /)]);
    const sock = dgram.createSocket('udp4');
    const answer = await new Promise<Buffer>((resolve) => {
      sock.once('message', resolve);
      sock.send(encodeMessage({ type: 'query', id: 5, flags: 0, questions: [{ name: serviceName('example.org'), type: 'PTR', class: 'IN' }] }), server.addresses[0]!.port, '127.0.0.1');
    });
    sock.close();
    // Without a cookie the listing comes truncated (answer.ts): a response to our query all the same.
    const m = decodeMessage(answer)!;
    expect([m.id, m.type, m.questions?.[0]?.name]).toEqual([5, 'response', serviceName('example.org')]);
  } finally {
    await server.close();
  }
});
