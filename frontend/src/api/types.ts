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
}

export interface LoginResponse {
  token: string
  user?: User
}

export interface SetupStatus {
  needs_setup: boolean
  county_name?: string
  localhost_only?: boolean
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
