/** "2026-11-22 13:05" in local time; returns the input when it is not a date. */
export function formatDateTime(v: string | number | Date, withSeconds = false): string {
  const d = v instanceof Date ? v : new Date(v)
  if (Number.isNaN(d.getTime())) return String(v)
  const p = (n: number) => String(n).padStart(2, '0')
  const s = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
  return withSeconds ? `${s}:${p(d.getSeconds())}` : s
}

export function formatTime(v: string | number | Date): string {
  const d = v instanceof Date ? v : new Date(v)
  if (Number.isNaN(d.getTime())) return String(v)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** Compact number: 1234.5 → "1,234.5"; null → "—". */
export function formatNumber(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  const r = Math.round(v * 10 ** digits) / 10 ** digits
  return r.toLocaleString('en-US', { maximumFractionDigits: digits })
}
