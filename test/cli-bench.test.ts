import { afterEach, describe, expect, it } from 'vitest';
import { killChildren, runCli } from './helpers/cli.js';

afterEach(async () => {
  await killChildren();
});

interface BenchJson {
  mode: string;
  machine: { cpus: number; node: string };
  durationSeconds: number;
  requestsOk: number;
  requestsFailed: number;
  requestsPerSecond: number;
  eventsAcked: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  verify: { valid: boolean; records: number; allAckedPresent: boolean };
}

describe('ironlog bench', () => {
  it('--mode http runs serve on a free loopback port, drives it with autocannon, and verifies what was written', async () => {
    const r = await runCli([
      'bench',
      '--mode',
      'http',
      '--duration',
      '1s',
      '--connections',
      '8',
      '--batch',
      '2',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout) as BenchJson;
    expect(b.mode).toBe('http');
    expect(b.machine.node).toBe(process.version);
    expect(b.requestsOk).toBeGreaterThan(0);
    expect(b.requestsFailed).toBe(0);
    expect(b.eventsAcked).toBe(b.requestsOk * 2);
    expect(b.requestsPerSecond).toBeGreaterThan(0);
    expect(b.latencyMs.p99).toBeGreaterThanOrEqual(b.latencyMs.p50);
    expect(b.verify.valid).toBe(true);
    expect(b.verify.allAckedPresent).toBe(true);
    expect(b.verify.records).toBeGreaterThanOrEqual(b.eventsAcked);
  });

  it('--mode inproc prints the figures as text', async () => {
    const r = await runCli([
      'bench',
      '--mode',
      'inproc',
      '--duration',
      '1s',
      '--connections',
      '16',
      '--event-size',
      '256',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ironlog bench --mode inproc: [\d.]+ s, 16 connections/);
    expect(r.stdout).toMatch(/events: +\d+ acked durable, \d+ events\/s/);
    expect(r.stdout).toMatch(/latency: +p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(r.stdout).toMatch(/verify: +valid, \d+ records in \d+ segments; every acked event is present/);
  });
});
