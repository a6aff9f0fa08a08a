/**
 * Masking of personal and card data in an event before it is encoded, so the plaintext never
 * reaches the ring, the WAL or a replica. Rules are plain data (they travel to worker-thread
 * producers inside the producer descriptor) and are validated once, by {@link compileMasking}.
 *
 * What is walked: plain objects (prototype `Object.prototype` or `null`) and arrays. Other
 * values (Date, Buffer, Map, class instances) are left as they are. The input is never mutated:
 * changed parts are copied, unchanged parts are shared with the input.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { maskCardNumbersInText, maskPan } from './card-number.js';
import {
  closeStates,
  compileFieldPath,
  completedRule,
  type FieldPath,
  type PathState,
  stepStates,
} from './field-path.js';
import { Pseudonymizer, type PseudonymKey } from './pseudonymize.js';

/**
 * What a field rule does with the value at its path:
 * - `remove`: the key is deleted (an array element is dropped);
 * - `redact`: the value becomes the string `[REDACTED]`;
 * - `pan`: a card number shown as PCI DSS 3.4.1 allows (at most first 6 and last 4 digits);
 * - `pseudonymize`: a keyed HMAC token (`options.pseudonymization` must give the key).
 */
export type MaskAction = 'remove' | 'redact' | 'pan' | 'pseudonymize';

/** A rule for the value at a field path (see `field-path.ts` for the path syntax). */
export interface FieldMaskRule {
  readonly path: string;
  readonly action: MaskAction;
}

/** A rule for text: every match of `pattern` in any string of the event is replaced. */
export interface PatternMaskRule {
  /** A JavaScript regular expression source, e.g. `'[\\w.+-]+@[\\w-]+\\.[\\w.]+'`. */
  readonly pattern: string;
  /** Regular expression flags; `g` is always added. Default `''`. */
  readonly flags?: string;
  /** Replacement text (`$&` etc. as in `String.prototype.replace`). Default `[REDACTED]`. */
  readonly replacement?: string;
}

/** Masking options of a sink (`openSink({ masking })`). */
export interface MaskingOptions {
  /** Rules by field path, applied in order: the first rule whose path matches a value wins. */
  readonly fields?: readonly FieldMaskRule[];
  /** Rules by text pattern, applied to every string value, in order. */
  readonly patterns?: readonly PatternMaskRule[];
  /**
   * Card-data preset (PCI DSS 3.3.1, 3.4.1): removes CVV/CVC and track data fields by their
   * usual names at any depth (`cvv`, `cvv2`, `cvc`, `cvc2`, `cid`, `securityCode`, `track1`,
   * `track2`, `trackData`, `pin`, `pinBlock`) and PAN-masks `pan`, `cardNumber`, `card_number`.
   * Default false.
   */
  readonly cardFields?: boolean;
  /**
   * Opt-in scan: masks every Luhn-valid 13-19 digit card number found in any string of the
   * event, wherever it is (free-text messages included). Costs a walk of every string. Default false.
   */
  readonly scanCardNumbers?: boolean;
}

/** Cached transitions out of one state set. */
interface Transition {
  readonly byKey: Map<string, Step>;
  byIndex: Step | undefined;
}
/** A state set and the first rule completed there (-1: none). */
interface Step {
  readonly states: PathState[];
  readonly rule: number;
}
const kMaxCachedKeys = 4096;

/** The text `redact` puts in place of a value. */
export const kRedacted = '[REDACTED]';

const kCardFieldRules: readonly FieldMaskRule[] = Object.freeze([
  ...['cvv', 'cvv2', 'cvc', 'cvc2', 'cid', 'securityCode', 'track1', 'track2', 'trackData', 'pin', 'pinBlock'].map(
    (k): FieldMaskRule => ({ path: `**.${k}`, action: 'remove' }),
  ),
  ...['pan', 'cardNumber', 'card_number'].map((k): FieldMaskRule => ({ path: `**.${k}`, action: 'pan' })),
]);

const kActions: ReadonlySet<string> = new Set<MaskAction>(['remove', 'redact', 'pan', 'pseudonymize']);
const kMaxDepth = 256;

interface CompiledPattern {
  readonly re: RegExp;
  readonly replacement: string;
}

/** The compiled, validated form of {@link MaskingOptions}: `apply` masks one event. */
export class Masker {
  readonly #paths: readonly FieldPath[];
  readonly #actions: readonly MaskAction[];
  readonly #patterns: readonly CompiledPattern[];
  readonly #scan: boolean;
  readonly #pseudonymizer: Pseudonymizer | undefined;
  readonly #start: readonly PathState[];
  /** True when every string must be visited (patterns or the card scan). */
  readonly #walkAll: boolean;
  /** Memoized NFA steps (see {@link Masker.#step}). */
  readonly #transitions = new WeakMap<readonly PathState[], Transition>();
  readonly #interned = new Map<string, Step>();

  /** Use {@link compileMasking}, which validates the options first. */
  constructor(
    paths: readonly FieldPath[],
    actions: readonly MaskAction[],
    patterns: readonly CompiledPattern[],
    scan: boolean,
    pseudonymizer: Pseudonymizer | undefined,
  ) {
    this.#paths = paths;
    this.#actions = actions;
    this.#patterns = patterns;
    this.#scan = scan;
    this.#pseudonymizer = pseudonymizer;
    this.#start = closeStates(
      paths,
      paths.map((_, rule) => ({ rule, at: 0 })),
    );
    this.#walkAll = scan || patterns.length > 0;
  }

  /** True when no rule is configured (`apply` would return its input). */
  get empty(): boolean {
    return this.#paths.length === 0 && !this.#walkAll;
  }

  /**
   * Returns `event` with every rule applied. The input is not modified. A field rule that
   * matches nothing is a no-op. Throws `ERR_IRONLOG_ENCODE` for a cyclic or too deeply nested event.
   */
  apply(event: unknown): unknown {
    if (this.empty) return event;
    const out = this.#visit(event, this.#start, 0, []);
    return out === kRemoved ? undefined : out;
  }

  #visit(value: unknown, states: readonly PathState[], depth: number, stack: object[]): unknown {
    if (typeof value === 'string') return this.#maskText(value);
    if (typeof value !== 'object' || value === null) return value;
    const isArray = Array.isArray(value);
    if (!isArray && !isPlainObject(value)) return value;
    if (states.length === 0 && !this.#walkAll) return value;
    if (depth >= kMaxDepth) {
      throw new IronlogError(ErrorCodes.ENCODE, `cannot mask an event nested deeper than ${kMaxDepth} levels`);
    }
    if (stack.includes(value)) throw new IronlogError(ErrorCodes.ENCODE, 'cannot mask a cyclic event');
    stack.push(value);
    try {
      return isArray
        ? this.#visitArray(value as unknown[], states, depth, stack)
        : this.#visitObject(value as Record<string, unknown>, states, depth, stack);
    } finally {
      stack.pop();
    }
  }

  #visitArray(arr: readonly unknown[], states: readonly PathState[], depth: number, stack: object[]): unknown[] {
    let out: unknown[] | undefined;
    for (let i = 0; i < arr.length; i++) {
      const child = arr[i];
      const masked = this.#child(child, states, i, depth, stack);
      if (masked !== child && out === undefined) out = arr.slice(0, i);
      if (out !== undefined && masked !== kRemoved) out.push(masked);
    }
    return out ?? (arr as unknown[]);
  }

  #visitObject(
    obj: Record<string, unknown>,
    states: readonly PathState[],
    depth: number,
    stack: object[],
  ): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(obj);
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      const child = obj[key];
      const masked = this.#child(child, states, key, depth, stack);
      if (masked !== child && out === undefined) {
        // Copy what came before, keeping the prototype kind (null-prototype objects stay so).
        out = Object.getPrototypeOf(obj) === null ? Object.create(null) : {};
        for (let j = 0; j < k; j++)
          defineValue(out as Record<string, unknown>, keys[j] as string, obj[keys[j] as string]);
      }
      if (out !== undefined && masked !== kRemoved) defineValue(out, key, masked);
    }
    return out ?? obj;
  }

  #child(child: unknown, states: readonly PathState[], key: string | number, depth: number, stack: object[]): unknown {
    let next: readonly PathState[];
    let rule: number;
    if (states.length === 0) {
      next = states;
      rule = -1;
    } else {
      const step = this.#step(states, key);
      next = step.states;
      rule = step.rule;
    }
    if (rule >= 0) return this.#act(child, this.#actions[rule] as MaskAction, this.#paths[rule] as FieldPath);
    return this.#visit(child, next, depth + 1, stack);
  }

  #act(value: unknown, action: MaskAction, path: FieldPath): unknown {
    switch (action) {
      case 'remove':
        return kRemoved;
      case 'redact':
        return value === undefined ? value : kRedacted;
      case 'pan':
        if (typeof value === 'string') return maskPan(value);
        if (typeof value === 'number' || typeof value === 'bigint') return maskPan(String(value));
        return value === undefined || value === null ? value : kRedacted;
      case 'pseudonymize': {
        const p = this.#pseudonymizer as Pseudonymizer;
        if (
          typeof value === 'string' ||
          typeof value === 'boolean' ||
          typeof value === 'bigint' ||
          (typeof value === 'number' && Number.isFinite(value))
        ) {
          return p.token(value);
        }
        if (value === undefined || value === null) return value;
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          `cannot pseudonymize '${path.source}': it holds ${Array.isArray(value) ? 'an array' : typeof value}, not a string, number, boolean or bigint`,
        );
      }
    }
  }

  /**
   * {@link stepStates} + {@link completedRule}, memoized (a lazily built DFA): the state sets are
   * the same few arrays over and over (with `**` rules, nearly every node has the same set), so
   * each step is a map lookup instead of a closure over Sets. Array indexes all step alike.
   */
  #step(states: readonly PathState[], key: string | number): Step {
    let t = this.#transitions.get(states);
    if (t === undefined) {
      t = { byKey: new Map(), byIndex: undefined };
      this.#transitions.set(states, t);
    }
    if (typeof key === 'number') {
      t.byIndex ??= this.#intern(stepStates(this.#paths, states, key));
      return t.byIndex;
    }
    let hit = t.byKey.get(key);
    if (hit === undefined) {
      hit = this.#intern(stepStates(this.#paths, states, key));
      // Bounded: events with unbounded key spaces (ids as keys) must not grow the cache forever.
      if (t.byKey.size < kMaxCachedKeys) t.byKey.set(key, hit);
    }
    return hit;
  }

  /** The one canonical array (and its completed rule) of a state set, so it can key the cache. */
  #intern(states: PathState[]): Step {
    const id = states
      .map((s) => s.rule * 65536 + s.at)
      .sort((a, b) => a - b)
      .join(',');
    let hit = this.#interned.get(id);
    if (hit === undefined) {
      hit = { states, rule: states.length === 0 ? -1 : completedRule(this.#paths, states) };
      if (this.#interned.size < kMaxCachedKeys) this.#interned.set(id, hit);
    }
    return hit;
  }

  #maskText(text: string): string {
    let out = text;
    for (const p of this.#patterns) {
      p.re.lastIndex = 0;
      out = out.replace(p.re, p.replacement);
    }
    return this.#scan ? maskCardNumbersInText(out) : out;
  }
}

/** Marker for a removed value while rebuilding a container. */
const kRemoved: unique symbol = Symbol('ironlog.masked.removed');

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Sets an own data property, also for the key `__proto__` (assignment would change the prototype). */
function defineValue(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * Validates masking options (typed `ERR_IRONLOG_INVALID_OPTION` naming the bad field) and
 * compiles them. `where` prefixes the messages (`options.masking`).
 */
export function compileMasking(
  options: MaskingOptions | undefined,
  pseudonymKey?: PseudonymKey,
  where = 'options.masking',
): Masker {
  const pseudonymizer = pseudonymKey === undefined ? undefined : new Pseudonymizer(pseudonymKey);
  if (options === undefined) return new Masker([], [], [], false, pseudonymizer);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where} must be an object`);
  }
  const fieldRules: FieldMaskRule[] = [];
  if (options.fields !== undefined) {
    if (!Array.isArray(options.fields)) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where}.fields must be an array of { path, action }`);
    }
    fieldRules.push(...(options.fields as FieldMaskRule[]));
  }
  const userRules = fieldRules.length;
  if (options.cardFields !== undefined && typeof options.cardFields !== 'boolean') {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where}.cardFields must be a boolean`);
  }
  if (options.cardFields === true) fieldRules.push(...kCardFieldRules);
  const paths: FieldPath[] = [];
  const actions: MaskAction[] = [];
  fieldRules.forEach((rule, i) => {
    const at = i < userRules ? `${where}.fields[${i}]` : `${where}.cardFields`;
    if (typeof rule !== 'object' || rule === null) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `${at} must be an object { path, action }`);
    }
    paths.push(compileFieldPath(rule.path, `${at}.path`));
    if (typeof rule.action !== 'string' || !kActions.has(rule.action)) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `${at}.action must be one of ${[...kActions].join(', ')}`);
    }
    if (rule.action === 'pseudonymize' && pseudonymizer === undefined) {
      throw new IronlogError(
        ErrorCodes.INVALID_OPTION,
        `${at}.action 'pseudonymize' needs options.pseudonymization ({ keyId, key })`,
      );
    }
    actions.push(rule.action);
  });
  const patterns: CompiledPattern[] = [];
  if (options.patterns !== undefined) {
    if (!Array.isArray(options.patterns)) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where}.patterns must be an array of { pattern }`);
    }
    options.patterns.forEach((rule: PatternMaskRule, i: number) => {
      const at = `${where}.patterns[${i}]`;
      if (typeof rule !== 'object' || rule === null || typeof rule.pattern !== 'string' || rule.pattern === '') {
        throw new IronlogError(
          ErrorCodes.INVALID_OPTION,
          `${at}.pattern must be a non-empty regular expression source`,
        );
      }
      const flags = rule.flags ?? '';
      if (typeof flags !== 'string' || !/^[imsuv]*$/.test(flags)) {
        throw new IronlogError(ErrorCodes.INVALID_OPTION, `${at}.flags must be made of i, m, s, u, v`);
      }
      let re: RegExp;
      try {
        re = new RegExp(rule.pattern, `${flags}g`);
      } catch (err) {
        throw new IronlogError(
          ErrorCodes.INVALID_OPTION,
          `${at}.pattern must be a valid regular expression: ${(err as Error).message}`,
        );
      }
      if (re.test('')) {
        throw new IronlogError(ErrorCodes.INVALID_OPTION, `${at}.pattern must not match the empty string`);
      }
      const replacement = rule.replacement ?? kRedacted;
      if (typeof replacement !== 'string') {
        throw new IronlogError(ErrorCodes.INVALID_OPTION, `${at}.replacement must be a string`);
      }
      patterns.push({ re, replacement });
    });
  }
  if (options.scanCardNumbers !== undefined && typeof options.scanCardNumbers !== 'boolean') {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where}.scanCardNumbers must be a boolean`);
  }
  return new Masker(paths, actions, patterns, options.scanCardNumbers === true, pseudonymizer);
}
