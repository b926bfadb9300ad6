/** Python-compatible number formatting for the text report (internal). */

const view = new DataView(new ArrayBuffer(8));

/**
 * Formats `x` with `digits` decimals exactly like Python's `'{:.Nf}'.format(x)`:
 * the exact binary value is rounded half-to-even, so 0.125 gives "0.12" where
 * JavaScript's `toFixed` gives "0.13".
 */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  // |x| = mant * 2^exp; scaled = |x| * 10^digits, rounded half-to-even.
  const pow10 = 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) {
    q = (mant << BigInt(exp)) * pow10;
  } else {
    const num = mant * pow10;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const twiceRem = (num - q * den) * 2n;
    if (twiceRem > den || (twiceRem === den && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, '0');
    s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  }
  return negative ? `-${s}` : s;
}

/** Right-aligns `s` in `width` characters, counting code points like Python's `len`. */
export function padLeft(s: string, width: number): string {
  const len = [...s].length;
  return len >= width ? s : ' '.repeat(width - len) + s;
}
