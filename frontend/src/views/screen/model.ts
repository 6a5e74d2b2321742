// Pure logic of the command-centre screen: how live events change the data.
import type { GridFeature, Indicator, LiveEvent, ScreenAlarm, ScreenData, Threshold } from '@/api/types'

export const MAX_FEED = 50

/** Event types that mean "the aggregate numbers changed: refetch". */
export const REFETCH_PREFIXES = ['telemetry.', 'alarm.', 'case.', 'cases.', 'project.', 'projects.', 'device.', 'iot.', 'dashboard.', 'org.grid.']

export type Outcome = 'patched' | 'refetch' | 'ignored'

/** Status of a value against a threshold (same rules the backend should use). */
export function statusOf(value: number | null | undefined, th?: Threshold): Indicator['status'] {
  if (value === null || value === undefined || Number.isNaN(value)) return 'nodata'
  if (!th) return 'normal'
  const below = th.direction === 'below'
  const past = (lim?: number | null) => lim !== null && lim !== undefined && (below ? value <= lim : value >= lim)
  if (past(th.critical)) return 'critical'
  if (past(th.warning)) return 'warning'
  return 'normal'
}

/**
 * Apply one live event to the screen data in place. Returns 'patched' when
 * the event was fully applied, 'refetch' when aggregates (map, funnel…) need
 * a fresh GET, 'ignored' otherwise. Some events do both (patch the feed now,
 * refetch the counts soon).
 */
export function applyEvent(d: ScreenData, e: LiveEvent, maxTrend = 48): Outcome {
  const data = (e.data ?? {}) as Record<string, any>
  switch (e.type) {
    case 'indicator.updated': {
      const ind = d.indicators.find((i) => i.key === data.key)
      if (!ind) return 'refetch'
      ind.value = typeof data.value === 'number' ? data.value : null
      ind.status = (data.status as Indicator['status']) ?? statusOf(ind.value, ind.threshold)
      ind.updated_at = e.time
      if (ind.value !== null) {
        ind.trend = [...(ind.trend ?? []), ind.value].slice(-maxTrend)
      }
      return 'patched'
    }
    case 'alarm.raised': {
      const a: ScreenAlarm = {
        id: data.id ?? e.index ?? Date.now(),
        severity: data.severity ?? 'warning',
        title: data.title ?? data.rule_name ?? String(data.id ?? ''),
        device_name: data.device_name,
        grid_name: data.grid_name,
        time: data.time ?? data.raised_at ?? e.time ?? new Date().toISOString(),
        state: 'active',
      }
      d.alarms = [a, ...d.alarms.filter((x) => String(x.id) !== String(a.id))].slice(0, MAX_FEED)
      return 'refetch'
    }
    case 'alarm.cleared':
    case 'alarm.acknowledged': {
      const a = d.alarms.find((x) => String(x.id) === String(data.id))
      if (a) a.state = e.type === 'alarm.cleared' ? 'cleared' : 'acknowledged'
      return 'refetch'
    }
  }
  return REFETCH_PREFIXES.some((p) => e.type.startsWith(p)) ? 'refetch' : 'ignored'
}

/** Colour for an open-case count on the map (pieces match the visualMap). */
export const MAP_PIECES = [
  { lte: 0, color: '#1b4d3e', label: '0' },
  { gte: 1, lte: 3, color: '#2e7d5b', label: '1–3' },
  { gte: 4, lte: 8, color: '#c9a227', label: '4–8' },
  { gte: 9, lte: 15, color: '#d9731e', label: '9–15' },
  { gte: 16, color: '#c0392b', label: '≥16' },
]

export function onlineRatio(d: { online: number; total: number }): number {
  return d.total > 0 ? d.online / d.total : 0
}

export const CATEGORY_ORDER = ['environment', 'water', 'safety', 'traffic', 'services']

export function groupIndicators(list: Indicator[]): { category: string; items: Indicator[] }[] {
  const m = new Map<string, Indicator[]>()
  for (const c of CATEGORY_ORDER) m.set(c, [])
  for (const i of list) {
    if (!m.has(i.category)) m.set(i.category, [])
    m.get(i.category)!.push(i)
  }
  return [...m.entries()].filter(([, v]) => v.length > 0).map(([category, items]) => ({ category, items }))
}

/** A grid row of GET /api/v1/grids?geometry=1 (app/org Grid). */
export interface GridRow {
  code: string
  name: string
  level?: number
  geometry?: GridFeature['geometry'] | null
  open_cases?: number
}

/**
 * Screen data built from the org module alone, used while the dashboard
 * endpoint is missing: the grid map (no case counts) and nothing else.
 */
export function screenFromGrids(rows: GridRow[], countyName?: string): ScreenData {
  const features: GridFeature[] = rows
    .filter((r) => r.geometry && (r.geometry.type === 'Polygon' || r.geometry.type === 'MultiPolygon'))
    .map((r) => ({ type: 'Feature', properties: { code: r.code, name: r.name, open_cases: r.open_cases ?? 0 }, geometry: r.geometry! }))
  return {
    county_name: countyName,
    indicators: [],
    alarms: [],
    grids: { type: 'FeatureCollection', features },
    funnel: { reported: 0, accepted: 0, dispatched: 0, handled: 0, closed: 0 },
    overdue: [],
    projects: { green: 0, yellow: 0, red: 0, items: [] },
    devices: { online: 0, total: 0 },
  }
}
