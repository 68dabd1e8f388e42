import { describe, expect, it } from 'vitest';
import { isAutoTable, orderRoutes } from '../../src/quick/routes.js';

describe('orderRoutes (wg-quick: sort -nr -k 2 -t / under LC_ALL=C)', () => {
  it('most specific first; ties by whole text, descending; ::/0 before 0.0.0.0/0', () => {
    expect(orderRoutes(['0.0.0.0/0', '10.0.0.0/8', '::/0', '10.1.0.0/16', '10.2.0.0/16', 'fd00::/64', '10.0.0.1/32'])).toEqual([
      'fd00::/64',
      '10.0.0.1/32',
      '10.2.0.0/16',
      '10.1.0.0/16',
      '10.0.0.0/8',
      '::/0',
      '0.0.0.0/0',
    ]);
  });

  it('drops what wg-quick regex drops', () => {
    expect(orderRoutes(['10.0.0.0/8', 'bogus', 'FD00::/8', '1.2.3.4'])).toEqual(['10.0.0.0/8']);
  });

  it('auto table: unset, empty or auto', () => {
    expect([undefined, '', 'auto', 'off', '1234', 'main'].map(isAutoTable)).toEqual([true, true, true, false, false, false]);
  });
});
