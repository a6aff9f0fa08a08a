/**
 * Every relative link in every Markdown file of the repository points to a file that exists and,
 * with a `#fragment`, to a heading that exists in it (GitHub's anchor rules). External links
 * (http:, https:, mailto:) are not fetched: this machine has no network beyond package registries.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const kRoot = fileURLToPath(new URL('..', import.meta.url));
const kSkipDirs = new Set(['node_modules', 'dist', 'coverage', '.git', '.vitest-tmp', '.bench-tmp']);

function markdownFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!kSkipDirs.has(e.name)) markdownFiles(path.join(dir, e.name), out);
    } else if (e.isFile() && e.name.endsWith('.md')) {
      out.push(path.join(dir, e.name));
    }
  }
  return out;
}

/** Markdown without fenced code blocks. */
function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** Markdown without fenced code blocks and inline code (links there are examples, not links). */
function prose(text: string): string {
  return withoutFences(text).replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of withoutFences(text).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const base = (m[1] as string)
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1] as string);
  return anchors;
}

function linksOf(text: string): string[] {
  const out: string[] = [];
  const body = prose(text);
  for (const m of body.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1] as string);
  for (const m of body.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) out.push(m[1] as string);
  return out;
}

const files = markdownFiles(kRoot);

describe('Markdown links', () => {
  it('finds the documentation', () => {
    expect(files.map((f) => path.relative(kRoot, f))).toEqual(expect.arrayContaining(['README.md', 'docs/cli.md']));
  });

  it('every relative link and anchor resolves', () => {
    const broken: string[] = [];
    const anchorCache = new Map<string, Set<string>>();
    const anchors = (file: string): Set<string> => {
      let a = anchorCache.get(file);
      if (a === undefined) {
        a = anchorsOf(fs.readFileSync(file, 'utf8'));
        anchorCache.set(file, a);
      }
      return a;
    };
    for (const file of files) {
      const rel = path.relative(kRoot, file);
      for (const link of linksOf(fs.readFileSync(file, 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto: ...
        const [target = '', fragment] = link.split('#', 2);
        const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
        if (!fs.existsSync(resolved)) {
          broken.push(`${rel}: ${link} (no such file)`);
          continue;
        }
        if (fragment !== undefined && fragment !== '' && resolved.endsWith('.md')) {
          if (!anchors(resolved).has(decodeURIComponent(fragment).toLowerCase())) {
            broken.push(`${rel}: ${link} (no heading #${fragment})`);
          }
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
