/**
 * The terminal QR code: each character cell is two modules of the code the qrcode package makes
 * (top and bottom), black on white whatever the terminal's colours, with a quiet zone around it.
 * Read back cell by cell, it must give exactly the module matrix — a scanner then reads what the
 * PNG holds (that one is checked with zbarimg in test/integration/peer).
 */
import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrPng, qrTerminal } from '../../src/peer/qr.js';

const CONFIG = `[Interface]\nPrivateKey = ${'A'.repeat(43)}=\nAddress = 10.8.0.2/32, fd08::2/128\n\n[Peer]\nPublicKey = ${'B'.repeat(43)}=\nEndpoint = vpn.example.com:51820\nAllowedIPs = 0.0.0.0/0, ::/0\n`;

describe('qrTerminal', () => {
  it('draws exactly the modules of the code, two per cell, black on white', async () => {
    const art = await qrTerminal(CONFIG);
    const rows = art.trimEnd().split('\n');
    for (const r of rows) expect(r).toMatch(/^\x1b\[30;107m[ ▀▄█]+\x1b\[0m$/);
    const cells = rows.map((r) => [...r.replace(/\x1b\[[0-9;]*m/g, '')]);
    const { modules } = QRCode.create(CONFIG, { errorCorrectionLevel: 'L' });
    const size = modules.size;
    const margin = 2;
    expect(cells[0]!.length).toBe(size + 2 * margin);
    expect(rows.length).toBe(Math.ceil(size / 2) + margin); // margin/2 blank rows above and below
    // Within 80 columns for a full-size configuration.
    expect(cells[0]!.length).toBeLessThanOrEqual(80);
    const dark = (y: number, x: number): boolean => y < size && modules.get(y, x) === 1;
    for (let y = 0; y < size; y += 2) {
      for (let x = 0; x < size; x++) {
        const c = cells[margin / 2 + y / 2]![margin + x];
        const want = dark(y, x) ? (dark(y + 1, x) ? '█' : '▀') : dark(y + 1, x) ? '▄' : ' ';
        expect(c, `cell ${x},${y}`).toBe(want);
      }
    }
  });

  it('the PNG is a PNG', async () => {
    const png = await qrPng(CONFIG);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });
});
