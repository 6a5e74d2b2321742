export interface Scope {
  /** all | department | department_tree | grid | own */
  level?: string
  department_ids?: number[] | string[]
  grid_codes?: string[]
  [k: string]: unknown
}

export interface User {
  id: number | string
  username: string
  display_name?: string
  roles: string[]
  permissions: string[]
  department_id?: number | string | null
  department_name?: string
  scope?: Scope
  must_change_password?: boolean
  county_name?: string
}

/**
 * The server's /me may use either the documented names (display_name,
 * department_id, department_name, scope.level) or the app/org names (name,
 * dept_id, dept_name, department{id,name}, scope.kind, county{name}); this
 * maps both onto User.
 */
export function normalizeUser(raw: Record<string, any>): User {
  const dept = raw.department && typeof raw.department === 'object' ? raw.department : null
  const scope = raw.scope && typeof raw.scope === 'object' ? { ...raw.scope } : {}
  if (scope.level === undefined && scope.kind !== undefined) scope.level = scope.kind
  if (scope.department_ids === undefined && scope.dept_ids !== undefined) scope.department_ids = scope.dept_ids
  return {
    ...raw,
    id: raw.id ?? raw.user_id,
    username: raw.username ?? '',
    display_name: raw.display_name ?? raw.name ?? '',
    roles: Array.isArray(raw.roles) ? raw.roles : [],
    permissions: Array.isArray(raw.permissions) ? raw.permissions : [],
    department_id: raw.department_id ?? raw.dept_id ?? dept?.id ?? null,
    department_name: raw.department_name ?? raw.dept_name ?? dept?.name ?? '',
    scope,
    must_change_password: !!raw.must_change_password,
    county_name: raw.county_name ?? raw.county?.name ?? undefined,
  }
}

export interface LoginResponse {
  token: string
  user?: User
}

export interface SetupStatus {
  needs_setup: boolean
  county_name?: string
  /** Setup is accepted from the server machine only. */
  local_only?: boolean
  /** This browser is on the server machine (false: setup will be refused). */
  from_local?: boolean
}

export interface LiveEvent<T = any> {
  type: string
  index?: number
  time?: string
  data: T
}

export interface SearchHit {
  type: string
  id: string | number
  title: string
  snippet?: string
  url?: string
}

export interface Threshold {
  warning?: number | null
  critical?: number | null
  direction?: 'above' | 'below'
}

export interface Indicator {
  key: string
  name: string
  category: string
  value: number | null
  unit?: string
  threshold?: Threshold
  status?: 'normal' | 'warning' | 'critical' | 'nodata'
  trend?: number[]
  metric?: string
  aggregation?: string
  updated_at?: string
}

export interface ScreenAlarm {
  id: string | number
  severity: 'critical' | 'major' | 'minor' | 'warning' | 'info' | string
  title: string
  device_name?: string
  grid_name?: string
  time: string
  state?: 'active' | 'acknowledged' | 'cleared' | string
}

export interface GridFeature {
  type: 'Feature'
  properties: { code: string; name: string; open_cases: number }
  geometry: { type: 'Polygon' | 'MultiPolygon'; coordinates: unknown }
}

export interface ScreenData {
  county_name?: string
  generated_at?: string
  indicators: Indicator[]
  alarms: ScreenAlarm[]
  grids: { type: 'FeatureCollection'; features: GridFeature[] }
  funnel: { reported: number; accepted: number; dispatched: number; handled: number; closed: number; [k: string]: number }
  overdue: { id: string | number; title: string; department?: string; grid_name?: string; deadline: string; overdue_hours?: number; level?: string }[]
  projects: { green: number; yellow: number; red: number; items: { id: string | number; name: string; status: 'green' | 'yellow' | 'red'; stage?: string; progress?: number }[] }
  devices: { online: number; total: number; fault?: number }
}
