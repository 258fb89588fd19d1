// A short, stable hash for cache keys (the tuning cache's checksum of the implementation set).

/** A short, stable hash (FNV-1a, 32 bits, hex) of `text`. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
