import { test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
test('module', () => { expect(execFileSync('wg', ['--version']).toString()).toContain('wireguard-tools'); });
