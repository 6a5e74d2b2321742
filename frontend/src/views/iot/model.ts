// Pure logic of the IoT console pages (device detail, alarms, rule editor):
// merging live latest values, chart series, rule form ⇄ RuleInput, command
// parameters. Kept free of Vue so it is unit tested (model.test.ts).

export interface Point { ts: string; value: number; min?: number; max?: number; n?: number }
export type Latest = Record<string, Point>

/** Data of a `telemetry.latest` live event: device → metric → point. */
export interface LatestEvent { devices?: Record<string, Record<string, Point>> }

/**
 * Merge the values a telemetry.latest event carries for one device into
 * latest (in place). A point older than the one shown is ignored. Returns the
 * metrics that changed.
 */
export function mergeLatest(latest: Latest, ev: LatestEvent | null | undefined, device: string): string[] {
  const got = ev?.devices?.[device]
  if (!got) return []
  const changed: string[] = []
  for (const [metric, p] of Object.entries(got)) {
    const cur = latest[metric]
    if (cur && Date.parse(cur.ts) > Date.parse(p.ts)) continue
    latest[metric] = { ts: p.ts, value: p.value }
    changed.push(metric)
  }
  return changed.sort()
}

/** Resolutions the telemetry endpoint offers (auto picks by range). */
export const RESOLUTIONS = ['auto', 'raw', '1m', '1h'] as const
export type Resolution = (typeof RESOLUTIONS)[number]

/** Time ranges offered for the charts, in hours. */
export const RANGES = [1, 24, 168, 720] as const

/** Query of GET /api/v1/devices/{id}/telemetry for a metric over the last `hours`. */
export function telemetryQuery(metric: string, res: Resolution, hours: number, now = Date.now()): Record<string, string> {
  return { metric, res, from: new Date(now - hours * 3600_000).toISOString(), to: new Date(now).toISOString() }
}

/** [time, value] pairs for a line series; rollups also give a min–max band. */
export function chartData(points: Point[]): { line: [number, number][]; min: [number, number][]; max: [number, number][] } {
  const line: [number, number][] = []
  const min: [number, number][] = []
  const max: [number, number][] = []
  for (const p of points) {
    const t = Date.parse(p.ts)
    if (Number.isNaN(t)) continue
    line.push([t, p.value])
    if (p.min !== undefined && p.max !== undefined) {
      min.push([t, p.min])
      max.push([t, p.max])
    }
  }
  return { line, min, max }
}

/** Append a live point to a raw series when it is newer than the last one. */
export function appendLive(points: Point[], p: Point, limit = 5000): boolean {
  const last = points[points.length - 1]
  if (last && Date.parse(last.ts) >= Date.parse(p.ts)) return false
  points.push({ ts: p.ts, value: p.value })
  if (points.length > limit) points.splice(0, points.length - limit)
  return true
}

// ---- rules ----

export const RULE_KINDS = ['threshold', 'range', 'rate', 'nodata'] as const
export const OPS = ['gt', 'ge', 'lt', 'le'] as const
export const SEVERITIES = ['info', 'minor', 'major', 'critical'] as const

export interface Rule {
  id?: number
  name: string
  device_type?: string
  device_id?: string
  metric: string
  kind: string
  op?: string
  threshold: number
  low: number
  high: number
  clear_threshold?: number | null
  hysteresis: number
  duration_s: number
  debounce_s: number
  severity: string
  case_category?: string
  enabled: boolean
}

/** The editor's form: scope chooses device type or one device. */
export interface RuleForm extends Rule {
  scope: 'type' | 'device'
  scope_value: string
  use_clear: boolean
}

export function emptyRuleForm(): RuleForm {
  return {
    name: '', scope: 'type', scope_value: '', metric: '', kind: 'threshold', op: 'gt', threshold: 0, low: 0, high: 1,
    clear_threshold: null, use_clear: false, hysteresis: 0, duration_s: 0, debounce_s: 300, severity: 'major',
    case_category: '', enabled: true,
  }
}

export function ruleToForm(r: Rule): RuleForm {
  return {
    ...emptyRuleForm(),
    ...r,
    op: r.op || 'gt',
    scope: r.device_id ? 'device' : 'type',
    scope_value: r.device_id || r.device_type || '',
    clear_threshold: r.clear_threshold ?? null,
    use_clear: r.clear_threshold !== undefined && r.clear_threshold !== null,
    case_category: r.case_category ?? '',
  }
}

/** The RuleInput body for POST/PUT /api/v1/alarm-rules: only what the kind uses. */
export function formToInput(f: RuleForm): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: f.name.trim(),
    metric: f.metric.trim(),
    kind: f.kind,
    severity: f.severity,
    hysteresis: f.hysteresis,
    duration_s: f.duration_s,
    debounce_s: f.debounce_s,
    enabled: f.enabled,
  }
  body[f.scope === 'device' ? 'device_id' : 'device_type'] = f.scope_value.trim()
  if (f.case_category?.trim()) body.case_category = f.case_category.trim()
  switch (f.kind) {
    case 'threshold':
      body.op = f.op
      body.threshold = f.threshold
      if (f.use_clear && f.clear_threshold !== null && f.clear_threshold !== undefined) body.clear_threshold = f.clear_threshold
      break
    case 'range':
      body.low = f.low
      body.high = f.high
      break
    case 'rate':
      body.threshold = f.threshold
      break
  }
  return body
}

/**
 * Server field errors name RuleInput fields; the form shows device_type and
 * device_id under the one scope field.
 */
export function formFieldErrors(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(fields)) out[k === 'device_type' || k === 'device_id' ? 'scope_value' : k] = v
  return out
}

const opSign: Record<string, string> = { gt: '>', ge: '≥', lt: '<', le: '≤' }

/** A short, language-neutral condition: "> 3", "∉ [1, 5]", "Δ ≥ 0.5/min", "∅ 300 s", plus "· 60 s" when it must hold. */
export function ruleCondition(r: Pick<Rule, 'kind' | 'op' | 'threshold' | 'low' | 'high' | 'duration_s'>): string {
  let s: string
  switch (r.kind) {
    case 'threshold':
      s = `${opSign[r.op ?? ''] ?? r.op} ${r.threshold}`
      break
    case 'range':
      s = `∉ [${r.low}, ${r.high}]`
      break
    case 'rate':
      s = `|Δ| ≥ ${r.threshold}/min`
      break
    case 'nodata':
      return `∅ ${r.duration_s} s`
    default:
      s = r.kind
  }
  return r.duration_s > 0 ? `${s} · ${r.duration_s} s` : s
}

// ---- commands ----

/** Parse the params box of the command form: empty → undefined, else JSON. Throws on bad JSON. */
export function parseParams(text: string): unknown {
  const s = text.trim()
  if (!s) return undefined
  return JSON.parse(s)
}

/** A command in one of these states will not change any more. */
export function commandFinal(state: string): boolean {
  return ['replied', 'timeout', 'failed'].includes(state)
}

/** Live events after which the alarm list is reloaded. */
export function isAlarmEvent(type: string): boolean {
  return type.startsWith('alarm.')
}

// ---- device map ----

export interface MapDevice { id: string; name: string; status: string; lat?: number | null; lng?: number | null }

/** Scatter data per status ([lng, lat, id, name]); devices without a position are counted apart. */
export function mapPoints(devices: MapDevice[]): { byStatus: Record<string, [number, number, string, string][]>; unplaced: number } {
  const byStatus: Record<string, [number, number, string, string][]> = {}
  let unplaced = 0
  for (const d of devices) {
    if (typeof d.lat !== 'number' || typeof d.lng !== 'number') {
      unplaced++
      continue
    }
    ;(byStatus[d.status] ??= []).push([d.lng, d.lat, d.id, d.name])
  }
  return { byStatus, unplaced }
}
