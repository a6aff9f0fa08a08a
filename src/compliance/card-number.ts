/**
 * Payment card numbers (PANs): the Luhn check, the PCI DSS 3.4.1 display mask (at most the first
 * six and the last four digits shown), and a scan that masks every Luhn-valid 13-19 digit number
 * inside free text.
 */

/** The mask character that replaces a hidden digit. */
export const kMaskChar = '*';

/** True when the ASCII digit string `digits` passes the Luhn (mod 10) check. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** How many leading and trailing digits a PAN mask may show for a value of `n` digits. */
function shownDigits(n: number): { head: number; tail: number } {
  // PCI DSS 3.4.1 allows at most BIN (first 6) and last 4. For short values that would show
  // (nearly) everything, show less: never more than n - 6 digits in all.
  if (n >= 16) return { head: 6, tail: 4 };
  if (n >= 13) return { head: Math.max(0, n - 10), tail: 4 };
  if (n > 8) return { head: 0, tail: 4 };
  return { head: 0, tail: 0 };
}

/**
 * Masks the digits of `text` as a PAN: keeps at most the first six and the last four digits and
 * replaces every other digit with `*`. Separators and other characters stay where they are.
 */
export function maskPan(text: string): string {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  const { head, tail } = shownDigits(n);
  let out = '';
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const c = ch.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      out += seen < head || seen >= n - tail ? ch : kMaskChar;
      seen++;
    } else {
      out += ch;
    }
  }
  return out;
}

/** A run of at least 13 digits, digits optionally separated by one space or dash. */
const kDigitRun = /\d(?:[ -]?\d){12,}/g;

/** True when some window of 13 to 19 consecutive digits of `digits` is Luhn-valid. */
function hasCardWindow(digits: string): boolean {
  for (let len = 13; len <= 19 && len <= digits.length; len++) {
    for (let start = 0; start + len <= digits.length; start++) {
      if (luhnValid(digits.slice(start, start + len))) return true;
    }
  }
  return false;
}

/**
 * Masks every card number found in free text: each run of 13 or more digits (digits may be
 * separated by single spaces or dashes, as cards are written) that contains a Luhn-valid 13-19
 * digit window is masked with {@link maskPan}, which leaves no 13-digit run intact. Returns
 * `text` itself when nothing was found.
 */
export function maskCardNumbersInText(text: string): string {
  if (text.length < 13) return text;
  kDigitRun.lastIndex = 0;
  if (!kDigitRun.test(text)) return text;
  kDigitRun.lastIndex = 0;
  return text.replace(kDigitRun, (run) => {
    const digits = run.replace(/[ -]/g, '');
    return hasCardWindow(digits) ? maskPan(run) : run;
  });
}
