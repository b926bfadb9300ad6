// Deterministic test inputs shared by the rank workers and the tests (plain JS so every runtime loads it).
// Rank r's element i spans many magnitudes (2^-12 .. 2^12, both signs), so f32 sums depend on their order:
// a wrong summation order shows up as different bits.

/** 32-bit mix of (rank, index, salt). */
export function mix(a, b, salt = 0) {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ salt;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Rank r's input of n elements. */
export function rankInput(rank, n, salt = 0) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = mix(rank, i, salt);
    const mant = (h & 0xffff) / 65536 - 0.5;
    const exp = ((h >>> 16) % 25) - 12;
    x[i] = mant * 2 ** exp;
  }
  return x;
}

export async function sha256(f32) {
  const bytes = new Uint8Array(f32.byteLength);
  bytes.set(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
  const d = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
