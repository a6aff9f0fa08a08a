/**
 * The small filter language of `ironlog export --filter` (and `replay --filter`). Parsed into
 * a tree by a hand-written recursive-descent parser and evaluated against each record; no
 * `eval`, no `new Function`.
 *
 * ```
 * expr    := or
 * or      := and (('||' | 'or') and)*
 * and     := not (('&&' | 'and') not)*
 * not     := ('!' | 'not') not | cmp
 * cmp     := operand (op operand)?      op: == != < <= > >= ~ (regex match) contains in
 * operand := number | string | true | false | null | path | '(' expr ')' | '[' literal, ... ']'
 * path    := name ('.' name | '[' number ']' | '[' string ']')*
 * ```
 * Paths start at the record: `seq`, `time` (ISO string) or `event`; any other first name is
 * looked up in the event, so `level >= 40` means `event.level >= 40`. Strings take '...' or
 * "..." with backslash escapes. `==`/`!=` compare without type coercion; `<`, `<=`, `>`, `>=`
 * compare two numbers or two strings and are false otherwise; `a ~ "re"` tests a regular
 * expression; `a contains b` tests a substring or an array element; `a in [1, 2]` membership.
 * A bare operand is true when it is neither missing, null, false, 0 nor "". On the right of a
 * comparison a field must name its root (`event.a == event.b`): `user == u1` is refused, since
 * `"u1"` was almost certainly meant.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** What a filter sees of a record. */
export interface FilterRecord {
  readonly seq: number;
  /** ISO 8601 time. */
  readonly time: string;
  readonly event: unknown;
}

/** A compiled filter. */
export type RecordFilter = (record: FilterRecord) => boolean;

type Node =
  | { readonly t: 'lit'; readonly v: unknown }
  | { readonly t: 'path'; readonly parts: readonly (string | number)[]; readonly implicit: boolean }
  | { readonly t: 'list'; readonly items: readonly unknown[] }
  | { readonly t: 'not'; readonly e: Node }
  | { readonly t: 'and' | 'or'; readonly a: Node; readonly b: Node }
  | { readonly t: 'cmp'; readonly op: CmpOp; readonly a: Node; readonly b: Node; readonly re?: RegExp };

type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '~' | 'contains' | 'in';

type Token =
  | { readonly k: 'num'; readonly v: number; readonly at: number }
  | { readonly k: 'str'; readonly v: string; readonly at: number }
  | { readonly k: 'name'; readonly v: string; readonly at: number }
  | { readonly k: 'op'; readonly v: string; readonly at: number }
  | { readonly k: 'end'; readonly at: number };

function syntax(src: string, at: number, what: string): IronlogError {
  return new IronlogError(
    ErrorCodes.INVALID_ARGUMENT,
    `filter: ${what} at position ${at + 1} in ${JSON.stringify(src)} (see docs/cli.md, "Filter language")`,
  );
}

const kOps = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '~', '(', ')', '[', ']', '.', ','];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = i;
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw syntax(src, start, 'unterminated string');
        const d = src[i] as string;
        if (d === c) break;
        if (d === '\\') {
          const e = src[i + 1];
          if (e === undefined) throw syntax(src, i, 'dangling backslash');
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
          continue;
        }
        s += d;
        i++;
      }
      i++;
      out.push({ k: 'str', v: s, at: start });
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (num && (c !== '-' || out.length === 0 || out[out.length - 1]?.k === 'op')) {
      out.push({ k: 'num', v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(src.slice(i));
    if (name) {
      out.push({ k: 'name', v: name[0], at: i });
      i += name[0].length;
      continue;
    }
    const op = kOps.find((o) => src.startsWith(o, i));
    if (!op) throw syntax(src, i, `unexpected character ${JSON.stringify(c)}`);
    out.push({ k: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ k: 'end', at: src.length });
  return out;
}

class Parser {
  #i = 0;
  constructor(
    readonly src: string,
    readonly toks: Token[],
  ) {}

  get peek(): Token {
    return this.toks[this.#i] as Token;
  }
  next(): Token {
    return this.toks[this.#i++] as Token;
  }
  isOp(v: string): boolean {
    const t = this.peek;
    return t.k === 'op' && t.v === v;
  }
  isWord(v: string): boolean {
    const t = this.peek;
    return t.k === 'name' && t.v === v;
  }
  expectOp(v: string): void {
    if (!this.isOp(v)) throw syntax(this.src, this.peek.at, `expected '${v}'`);
    this.#i++;
  }

  parse(): Node {
    const e = this.or();
    if (this.peek.k !== 'end') throw syntax(this.src, this.peek.at, 'unexpected input');
    return e;
  }
  or(): Node {
    let a = this.and();
    while (this.isOp('||') || this.isWord('or')) {
      this.next();
      a = { t: 'or', a, b: this.and() };
    }
    return a;
  }
  and(): Node {
    let a = this.not();
    while (this.isOp('&&') || this.isWord('and')) {
      this.next();
      a = { t: 'and', a, b: this.not() };
    }
    return a;
  }
  not(): Node {
    if (this.isOp('!') || this.isWord('not')) {
      this.next();
      return { t: 'not', e: this.not() };
    }
    return this.cmp();
  }
  cmp(): Node {
    const a = this.operand();
    const t = this.peek;
    let op: CmpOp | undefined;
    if (t.k === 'op' && ['==', '!=', '<', '<=', '>', '>=', '~'].includes(t.v)) op = t.v as CmpOp;
    else if (t.k === 'name' && (t.v === 'contains' || t.v === 'in')) op = t.v;
    if (op === undefined) return a;
    this.next();
    const bt = this.peek;
    const b = this.operand();
    if (b.t === 'path' && b.implicit) {
      // `user == u1`: a bare name on the right would compare two fields and quietly match every
      // record without `user`; a string is far more likely meant, so the name must be spelled out.
      const name = bt.k === 'name' ? bt.v : String(b.parts[1]);
      throw syntax(
        this.src,
        bt.at,
        `bare name ${name} on the right of '${op}': write "${name}" for the string, or event.${name} to compare with that field`,
      );
    }
    if (op === '~') {
      if (b.t !== 'lit' || typeof b.v !== 'string') throw syntax(this.src, t.at, "'~' needs a string pattern");
      let re: RegExp;
      try {
        re = new RegExp(b.v);
      } catch (err) {
        throw syntax(this.src, t.at, `bad regular expression: ${(err as Error).message}`);
      }
      return { t: 'cmp', op, a, b, re };
    }
    if (op === 'in' && b.t !== 'list') throw syntax(this.src, t.at, "'in' needs a list such as [1, 2]");
    return { t: 'cmp', op, a, b };
  }
  literal(): unknown {
    const t = this.next();
    if (t.k === 'num' || t.k === 'str') return t.v;
    if (t.k === 'name' && t.v === 'true') return true;
    if (t.k === 'name' && t.v === 'false') return false;
    if (t.k === 'name' && t.v === 'null') return null;
    throw syntax(this.src, t.at, 'expected a literal');
  }
  operand(): Node {
    const t = this.peek;
    if (t.k === 'op' && t.v === '(') {
      this.next();
      const e = this.or();
      this.expectOp(')');
      return e;
    }
    if (t.k === 'op' && t.v === '[') {
      this.next();
      const items: unknown[] = [];
      if (!this.isOp(']')) {
        items.push(this.literal());
        while (this.isOp(',')) {
          this.next();
          items.push(this.literal());
        }
      }
      this.expectOp(']');
      return { t: 'list', items };
    }
    if (t.k === 'num' || t.k === 'str') {
      this.next();
      return { t: 'lit', v: t.v };
    }
    if (t.k === 'name') {
      if (t.v === 'true' || t.v === 'false' || t.v === 'null') return { t: 'lit', v: this.literal() };
      this.next();
      const parts: (string | number)[] = [t.v];
      for (;;) {
        if (this.isOp('.')) {
          this.next();
          const n = this.next();
          if (n.k !== 'name' && n.k !== 'num') throw syntax(this.src, n.at, 'expected a field name after .');
          parts.push(n.k === 'num' ? n.v : n.v);
        } else if (this.isOp('[')) {
          this.next();
          const k = this.next();
          if (k.k !== 'num' && k.k !== 'str') throw syntax(this.src, k.at, 'expected an index or a quoted key');
          parts.push(k.v);
          this.expectOp(']');
        } else break;
      }
      const implicit = parts[0] !== 'seq' && parts[0] !== 'time' && parts[0] !== 'event';
      if (implicit) parts.unshift('event');
      return { t: 'path', parts, implicit };
    }
    throw syntax(this.src, t.at, t.k === 'end' ? 'unexpected end of filter' : 'expected a value or a field');
  }
}

function lookup(rec: FilterRecord, parts: readonly (string | number)[]): unknown {
  let v: unknown = rec;
  for (const p of parts) {
    if (v === null || typeof v !== 'object') return undefined;
    if (Array.isArray(v)) {
      v = typeof p === 'number' ? v[p] : undefined;
      continue;
    }
    // Own properties only: a filter must not reach the prototype (`constructor`, `__proto__`).
    v = Object.hasOwn(v, String(p)) ? (v as Record<string, unknown>)[String(p)] : undefined;
  }
  return v;
}

function evalNode(n: Node, rec: FilterRecord): unknown {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'path':
      return lookup(rec, n.parts);
    case 'list':
      return n.items;
    case 'not':
      return !truthy(evalNode(n.e, rec));
    case 'and':
      return truthy(evalNode(n.a, rec)) && truthy(evalNode(n.b, rec));
    case 'or':
      return truthy(evalNode(n.a, rec)) || truthy(evalNode(n.b, rec));
    case 'cmp':
      return compare(n, evalNode(n.a, rec), evalNode(n.b, rec));
  }
}

function truthy(v: unknown): boolean {
  return !(v === undefined || v === null || v === false || v === 0 || v === '' || Number.isNaN(v));
}

function ordered(a: unknown, b: unknown): [number, number] | [string, string] | undefined {
  if (typeof a === 'number' && typeof b === 'number') return [a, b];
  if (typeof a === 'string' && typeof b === 'string') return [a, b];
  return undefined;
}

function compare(n: Extract<Node, { t: 'cmp' }>, a: unknown, b: unknown): boolean {
  switch (n.op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '~':
      return typeof a === 'string' && (n.re as RegExp).test(a);
    case 'contains':
      if (typeof a === 'string') return typeof b === 'string' && a.includes(b);
      return Array.isArray(a) && a.includes(b);
    case 'in':
      return Array.isArray(b) && b.includes(a);
    default: {
      const o = ordered(a, b);
      if (!o) return false;
      const [x, y] = o;
      if (n.op === '<') return x < y;
      if (n.op === '<=') return x <= y;
      if (n.op === '>') return x > y;
      return x >= y;
    }
  }
}

/** Compiles a filter expression; throws `ERR_IRONLOG_INVALID_ARGUMENT` with the position of a syntax error. */
export function compileFilter(src: string): RecordFilter {
  const tree = new Parser(src, tokenize(src)).parse();
  return (record) => truthy(evalNode(tree, record));
}
