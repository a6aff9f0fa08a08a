/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/) cannot be built or applied here:
 * no container engine runs on this machine. What can be checked is checked: every file parses,
 * the command lines they run are accepted by the real `ironlog serve`, their probes and
 * health checks answer from a real server, and ports, paths, users and labels agree across files.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { killChildren, spawnCli, waitForOutput } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

const repo = (p: string): string => fileURLToPath(new URL(`../${p}`, import.meta.url));
const read = (p: string): string => fs.readFileSync(repo(p), 'utf8');

type Doc = Record<string, unknown>;
function yamlDocs(p: string): Doc[] {
  return parseAllDocuments(read(p)).map((d) => {
    expect(d.errors, `${p} parses`).toEqual([]);
    return d.toJS() as Doc;
  });
}
function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.'))
    cur = (cur as Record<string, unknown> | undefined)?.[/^\d+$/.test(k) ? Number(k) : k];
  return cur;
}

/** The Dockerfile's instructions, with line continuations joined. */
function dockerfile(): Array<{ op: string; args: string }> {
  const joined = read('Dockerfile').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      if (m === null) throw new Error(`Dockerfile line not understood: ${l}`);
      return { op: (m[1] as string).toUpperCase(), args: m[2] as string };
    });
}
function jsonArray(text: string): string[] {
  const v: unknown = JSON.parse(text);
  expect(Array.isArray(v) && v.every((x) => typeof x === 'string')).toBe(true);
  return v as string[];
}
function optionValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-deploy-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

/**
 * Runs `ironlog <args>` as a deployment file gives them, with the WAL directory, the token file
 * and the port replaced by test-local ones and the host by loopback (only loopback is a test
 * target here), and returns the bound URL.
 */
async function startAsDeployed(args: readonly string[], tokensJson: string): Promise<string> {
  const tokensFile = tmp.join('tokens.json');
  fs.writeFileSync(tokensFile, tokensJson);
  const local = args.map((a, i) => {
    const prev = args[i - 1];
    if (prev === '--dir') return tmp.join('wal');
    if (prev === '--tokens-file') return tokensFile;
    if (prev === '--port') return '0';
    if (prev === '--host') return '127.0.0.1';
    return a;
  });
  const child = spawnCli(local);
  const m = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return m[1] as string;
}

const kTokens = JSON.stringify({
  tokens: [{ name: 'app', sha256: '0'.repeat(64), routes: ['ingest'] }],
});

describe('Dockerfile', () => {
  const ins = dockerfile();
  const one = (op: string): string => {
    const all = ins.filter((i) => i.op === op);
    expect(all.length, `one ${op}`).toBeGreaterThan(0);
    return (all[all.length - 1] as { args: string }).args;
  };

  it('copies only what exists, runs as a non-root user, keeps the WAL on a volume', () => {
    for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(fs.existsSync(repo(src)), `COPY ${src}`).toBe(true);
    }
    expect(ins.filter((i) => i.op === 'FROM').length).toBeGreaterThanOrEqual(2);
    expect(one('USER')).toMatch(/^10001(:10001)?$/);
    expect(jsonArray(one('VOLUME'))).toEqual(['/var/lib/ironlog']);
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(get(pkg.bin, 'ironlog')).toBe('./bin/ironlog.js');
    expect(get(pkg.scripts, 'prepare')).toContain('build');
  });

  it('its command starts a real server whose /health/live the HEALTHCHECK accepts', async () => {
    const entry = jsonArray(one('ENTRYPOINT'));
    expect(entry).toEqual(['node', 'bin/ironlog.js']);
    const cmd = jsonArray(one('CMD'));
    expect(optionValue(cmd, '--dir')?.startsWith('/var/lib/ironlog/')).toBe(true);
    expect(one('EXPOSE')).toBe(optionValue(cmd, '--port'));
    const url = await startAsDeployed(cmd, kTokens);

    const hc = one('HEALTHCHECK');
    const m = /CMD\s+(\[.*\])\s*$/.exec(hc);
    expect(m).not.toBeNull();
    const check = jsonArray((m as RegExpExecArray)[1] as string);
    expect(check[0]).toBe('node');
    const port = new URL(url).port;
    const script = (check[2] as string).replace('127.0.0.1:8080', `127.0.0.1:${port}`);
    expect(script).not.toBe(check[2]);
    const code = await new Promise<number | null>((resolve) => {
      spawn(process.execPath, ['-e', script], { stdio: 'ignore' }).once('exit', resolve);
    });
    expect(code).toBe(0);
    // The open routes the command gives: metrics and health without a token, ingest with one.
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/events`, { method: 'POST', body: '{}' })).status).toBe(401);
  });
});

describe('kubernetes', () => {
  const docs = ['statefulset', 'service', 'pdb', 'secret.example'].flatMap((f) =>
    yamlDocs(`deploy/kubernetes/${f}.yaml`),
  );
  const byKind = (kind: string): Doc[] => docs.filter((d) => get(d, 'kind') === kind);
  const sts = byKind('StatefulSet')[0] as Doc;
  const container = get(sts, 'spec.template.spec.containers.0') as Doc;
  const args = get(container, 'args') as string[];

  it('the StatefulSet runs the real serve; its probes answer 200 and a drain has time', async () => {
    const containerPort = get(container, 'ports.0.containerPort');
    expect(String(containerPort)).toBe(optionValue(args, '--port'));
    expect(get(sts, 'spec.template.spec.securityContext.runAsUser')).toBe(10001);
    expect(get(sts, 'spec.template.spec.securityContext.runAsNonRoot')).toBe(true);
    expect(Number(get(sts, 'spec.template.spec.terminationGracePeriodSeconds'))).toBeGreaterThanOrEqual(30);
    const walMount = (get(container, 'volumeMounts') as Doc[]).find((v) => get(v, 'name') === 'wal');
    expect(optionValue(args, '--dir')?.startsWith(`${get(walMount, 'mountPath')}/`)).toBe(true);
    expect(get(sts, 'spec.volumeClaimTemplates.0.metadata.name')).toBe('wal');
    const tokenMount = (get(container, 'volumeMounts') as Doc[]).find((v) => get(v, 'name') === 'tokens');
    expect(optionValue(args, '--tokens-file')?.startsWith(`${get(tokenMount, 'mountPath')}/`)).toBe(true);

    // $(POD_NAME) is expanded by Kubernetes; give it a pod name.
    const expanded = args.map((a) => a.replace('$(POD_NAME)', 'ironlog-0'));
    const secret = byKind('Secret')[0] as Doc;
    const tokens = (get(secret, 'stringData') as Record<string, string>)['tokens.json'] as string;
    const url = await startAsDeployed(expanded, tokens);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const path = get(container, `${probe}.httpGet.path`) as string;
      expect(get(container, `${probe}.httpGet.port`)).toBe('http');
      expect((await fetch(`${url}${path}`)).status, `${probe} ${path}`).toBe(200);
    }
  });

  it('services, the PDB and the pod template agree on labels, ports and names', () => {
    const labels = get(sts, 'spec.template.metadata.labels') as Record<string, string>;
    const matches = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => labels[k] === v);
    for (const svc of byKind('Service')) {
      expect(matches(get(svc, 'spec.selector') as Record<string, string>)).toBe(true);
      expect(get(svc, 'spec.ports.0.targetPort')).toBe(get(container, 'ports.0.name'));
    }
    expect(byKind('Service').some((s) => get(s, 'metadata.name') === get(sts, 'spec.serviceName'))).toBe(true);
    const pdb = byKind('PodDisruptionBudget')[0] as Doc;
    expect(matches(get(pdb, 'spec.selector.matchLabels') as Record<string, string>)).toBe(true);
    expect(matches(get(sts, 'spec.selector.matchLabels') as Record<string, string>)).toBe(true);
  });
});

describe('docker-compose', () => {
  const compose = yamlDocs('docker-compose.yml')[0] as Doc;
  const prom = yamlDocs('deploy/prometheus/prometheus.yml')[0] as Doc;
  const cmd = jsonArray((dockerfile().find((i) => i.op === 'CMD') as { args: string }).args);

  it('mounts files that exist, where the other services look for them', () => {
    const services = get(compose, 'services') as Record<string, Doc>;
    for (const svc of Object.values(services)) {
      for (const v of (get(svc, 'volumes') as string[] | undefined) ?? []) {
        const [src] = v.split(':');
        if (src?.startsWith('./')) expect(fs.existsSync(repo(src.slice(2))), v).toBe(true);
      }
    }
    const ironlog = get(services, 'ironlog') as Doc;
    expect((get(ironlog, 'volumes') as string[]).some((v) => v.endsWith(':/var/lib/ironlog'))).toBe(true);
    expect(get(ironlog, 'secrets.0.target')).toBe(optionValue(cmd, '--tokens-file'));
    expect(get(ironlog, 'ports')).toContain(`127.0.0.1:${optionValue(cmd, '--port')}:${optionValue(cmd, '--port')}`);

    expect(get(prom, 'scrape_configs.0.static_configs.0.targets.0')).toBe(`ironlog:${optionValue(cmd, '--port')}`);
    const promVolumes = get(services, 'prometheus.volumes') as string[];
    const rules = get(prom, 'rule_files.0') as string;
    expect(promVolumes.some((v) => v.startsWith('./docs/monitoring/alerts.yml:') && v.includes(`:${rules}`))).toBe(
      true,
    );

    const dashProvider = yamlDocs('deploy/grafana/provisioning/dashboards/ironlog.yml')[0] as Doc;
    const dashDir = get(dashProvider, 'providers.0.options.path') as string;
    const grafanaVolumes = get(services, 'grafana.volumes') as string[];
    expect(grafanaVolumes.some((v) => v.includes(':/etc/grafana/provisioning'))).toBe(true);
    expect(
      grafanaVolumes.some(
        (v) => v.startsWith('./docs/monitoring/grafana-dashboard.json:') && v.includes(`:${dashDir}/`),
      ),
    ).toBe(true);
    const ds = yamlDocs('deploy/grafana/provisioning/datasources/prometheus.yml')[0] as Doc;
    expect(get(ds, 'datasources.0.url')).toBe('http://prometheus:9090');
  });
});
