/**
 * Field paths into an event, for masking and pseudonymization rules.
 *
 * Syntax (dot-separated segments):
 *  - `user.card`       the key `card` of the object under `user`;
 *  - `items[*].pan`    `pan` of every element of the array `items` (`[*]` may follow any segment);
 *  - `*.cvv`           `cvv` one level below any key;
 *  - `**.cvv`          `cvv` at any depth, including the top level (`**` is zero or more levels,
 *                      objects and arrays alike).
 * A key is any non-empty run of characters other than `.`, `[`, `]` and `*`.
 *
 * Matching is a small NFA over the segments, so one walk of the event serves every rule.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** One compiled segment of a path. */
export type PathSegment =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'anyKey' }
  | { readonly kind: 'anyIndex' }
  | { readonly kind: 'anyDepth' };

/** A compiled path: its segments, and the text it came from (for messages). */
export interface FieldPath {
  readonly source: string;
  readonly segments: readonly PathSegment[];
}

const kKeyPattern = /^[^.[\]*]+$/;

/**
 * Compiles `source`. `where` names the option for the error message
 * (`options.masking.fields[0].path`).
 */
export function compileFieldPath(source: unknown, where: string): FieldPath {
  if (typeof source !== 'string' || source.length === 0) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where} must be a non-empty string such as 'user.card'`);
  }
  const segments: PathSegment[] = [];
  for (const part of source.split('.')) {
    const m = /^([^[\]]*)((?:\[\*\])*)$/.exec(part);
    if (m === null || (m[1] === '' && m[2] === '')) {
      throw new IronlogError(
        ErrorCodes.INVALID_OPTION,
        `${where} must be a field path like 'user.card', 'items[*].pan' or '**.cvv': '${source}' has an invalid segment '${part}'`,
      );
    }
    const name = m[1] as string;
    if (name === '**') segments.push({ kind: 'anyDepth' });
    else if (name === '*') segments.push({ kind: 'anyKey' });
    else if (name !== '') {
      if (!kKeyPattern.test(name)) {
        throw new IronlogError(
          ErrorCodes.INVALID_OPTION,
          `${where} must be a field path like 'user.card', 'items[*].pan' or '**.cvv': '${source}' has an invalid key '${name}'`,
        );
      }
      segments.push({ kind: 'key', key: name });
    }
    const indexes = (m[2] as string).length / 3;
    for (let i = 0; i < indexes; i++) segments.push({ kind: 'anyIndex' });
  }
  return { source, segments };
}

/** A position in one rule's path: rule index and the next segment to match. */
export interface PathState {
  readonly rule: number;
  readonly at: number;
}

/** Adds, for every state sitting on `**`, the state after it (`**` may match zero levels). */
export function closeStates(paths: readonly FieldPath[], states: readonly PathState[]): PathState[] {
  const out: PathState[] = [];
  const seen = new Set<number>();
  const stack = [...states];
  while (stack.length > 0) {
    const s = stack.pop() as PathState;
    const id = s.rule * 65536 + s.at;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(s);
    const seg = paths[s.rule]?.segments[s.at];
    if (seg?.kind === 'anyDepth') stack.push({ rule: s.rule, at: s.at + 1 });
  }
  return out;
}

/**
 * The states after descending into a child: an object key (`key` a string) or an array index
 * (`key` a number). The result is closed (see {@link closeStates}).
 */
export function stepStates(
  paths: readonly FieldPath[],
  states: readonly PathState[],
  key: string | number,
): PathState[] {
  const next: PathState[] = [];
  for (const s of states) {
    const seg = paths[s.rule]?.segments[s.at];
    if (seg === undefined) continue;
    switch (seg.kind) {
      case 'anyDepth':
        next.push(s);
        break;
      case 'anyKey':
        if (typeof key === 'string') next.push({ rule: s.rule, at: s.at + 1 });
        break;
      case 'anyIndex':
        if (typeof key === 'number') next.push({ rule: s.rule, at: s.at + 1 });
        break;
      case 'key':
        if (key === seg.key) next.push({ rule: s.rule, at: s.at + 1 });
        break;
    }
  }
  return closeStates(paths, next);
}

/** The first rule (lowest index) whose path ends at this node, or -1. */
export function completedRule(paths: readonly FieldPath[], states: readonly PathState[]): number {
  let best = -1;
  for (const s of states) {
    if (s.at === paths[s.rule]?.segments.length && (best === -1 || s.rule < best)) best = s.rule;
  }
  return best;
}
