// Dev/preview-only mock of the yiwang API, as a Vite server plugin. It runs
// in the Node dev server, never in the browser bundle. It implements the
// contract in docs/api-console.md closely enough to develop and e2e-test the
// console without the Go server:
//
//   YW_MOCK=1 npx vite preview    # or plain `npx vite`
//   users: admin/admin123 (all), operator/operator123, viewer/viewer123, handler/handler123
//   YW_MOCK_SETUP=1 starts with needs_setup=true.
//   POST /api/mock/emit {"type","data"} pushes a live event to every client.
import type { Plugin, Connect } from 'vite'
import type { IncomingMessage, ServerResponse } from 'node:http'

type Json = Record<string, any>

interface MockUser {
  id: number
  username: string
  password: string
  name: string
  roles: string[]
  permissions: string[]
  dept_id: number | null
  dept_name: string
  scope: Json
}

const users: MockUser[] = [
  { id: 1, username: 'admin', password: 'admin123', name: '系统管理员', roles: ['admin'], permissions: ['*'], dept_id: 1, dept_name: '县城市运行管理中心', scope: { kind: 'all' } },
  {
    id: 2,
    username: 'operator',
    password: 'operator123',
    name: '王坐席',
    roles: ['operator'],
    permissions: ['dashboard.read', 'case.read', 'case.create', 'case.dispatch', 'iot.read', 'kb.read', 'duty.read', 'live.subscribe'],
    dept_id: 1,
    dept_name: '县城市运行管理中心',
    scope: { kind: 'all' },
  },
  { id: 3, username: 'viewer', password: 'viewer123', name: '访客', roles: ['viewer'], permissions: ['dashboard.read', 'case.read', 'project.read', 'kb.read', 'live.subscribe'], dept_id: null, dept_name: '', scope: { kind: 'own' } },
  { id: 4, username: 'handler', password: 'handler123', name: '李处置', roles: ['handler'], permissions: ['case.read', 'case.handle', 'kb.read', 'live.subscribe'], dept_id: 5, dept_name: '县水利局', scope: { kind: 'dept_tree', dept_ids: [5] } },
]

// Deterministic pseudo-random numbers so screenshots are comparable.
let seed = 42
function rnd(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}

const TOWNS = ['城关镇', '东湖街道', '西山镇', '南河乡', '北岭镇', '青石镇', '白沙乡', '红旗街道', '柳林镇', '金桥镇', '桃园乡', '双溪镇']

function buildGrids(): Json {
  const cols = 4
  const rows = 3
  const x0 = 117.0
  const y0 = 31.0
  const dx = 0.1
  const dy = 0.09
  // Jittered shared vertices so neighbouring polygons tile exactly.
  const vx: number[][] = []
  const vy: number[][] = []
  for (let r = 0; r <= rows; r++) {
    vx.push([])
    vy.push([])
    for (let c = 0; c <= cols; c++) {
      const edge = r === 0 || r === rows || c === 0 || c === cols
      vx[r].push(x0 + c * dx + (edge && (c === 0 || c === cols) ? (rnd() - 0.5) * 0.03 : (rnd() - 0.5) * 0.04))
      vy[r].push(y0 + r * dy + (edge && (r === 0 || r === rows) ? (rnd() - 0.5) * 0.03 : (rnd() - 0.5) * 0.035))
    }
  }
  const features: Json[] = []
  let i = 0
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const ring = [
        [vx[r][c], vy[r][c]],
        [(vx[r][c] + vx[r][c + 1]) / 2, (vy[r][c] + vy[r][c + 1]) / 2 + (r === 0 ? (rnd() - 0.5) * 0.02 : 0)],
        [vx[r][c + 1], vy[r][c + 1]],
        [vx[r + 1][c + 1], vy[r + 1][c + 1]],
        [vx[r + 1][c], vy[r + 1][c]],
        [vx[r][c], vy[r][c]],
      ]
      const code = `341122${String(100 + i + 1).padStart(3, '0')}00000`
      features.push({ type: 'Feature', properties: { code, name: TOWNS[i], open_cases: Math.floor(rnd() * 20) }, geometry: { type: 'Polygon', coordinates: [ring] } })
      i++
    }
  }
  return { type: 'FeatureCollection', features }
}

const grids = buildGrids()

function trend(base: number, spread: number, n = 24): number[] {
  const out: number[] = []
  let v = base
  for (let i = 0; i < n; i++) {
    v += (rnd() - 0.5) * spread
    out.push(Math.round(v * 100) / 100)
  }
  return out
}

const indicators: Json[] = [
  { key: 'aqi', name: '空气质量指数', category: 'environment', unit: '', threshold: { warning: 100, critical: 150, direction: 'above' }, base: 62, spread: 8 },
  { key: 'pm25', name: 'PM2.5', category: 'environment', unit: 'μg/m³', threshold: { warning: 75, critical: 115, direction: 'above' }, base: 38, spread: 6 },
  { key: 'noise', name: '区域噪声', category: 'environment', unit: 'dB', threshold: { warning: 60, critical: 70, direction: 'above' }, base: 52, spread: 3 },
  { key: 'river_level', name: '城区河道水位', category: 'water', unit: 'm', threshold: { warning: 2.8, critical: 3.0, direction: 'above' }, base: 2.55, spread: 0.12 },
  { key: 'reservoir', name: '水库库容', category: 'water', unit: '%', threshold: { warning: 85, critical: 95, direction: 'above' }, base: 71, spread: 2 },
  { key: 'water_pressure', name: '供水管网压力', category: 'water', unit: 'MPa', threshold: { warning: 0.2, critical: 0.15, direction: 'below' }, base: 0.31, spread: 0.02 },
  { key: 'manhole_tilt', name: '井盖倾斜告警', category: 'safety', unit: '处', threshold: { warning: 3, critical: 6, direction: 'above' }, base: 1, spread: 1 },
  { key: 'smoke', name: '烟感告警', category: 'safety', unit: '处', threshold: { warning: 1, critical: 3, direction: 'above' }, base: 0, spread: 0.6 },
  { key: 'congestion', name: '拥堵指数', category: 'traffic', unit: '', threshold: { warning: 1.8, critical: 2.2, direction: 'above' }, base: 1.35, spread: 0.1 },
  { key: 'parking', name: '公共泊位空余', category: 'traffic', unit: '%', threshold: { warning: 15, critical: 5, direction: 'below' }, base: 36, spread: 4 },
  { key: 'hotline', name: '12345今日来电', category: 'services', unit: '件', threshold: { warning: 300, critical: 500, direction: 'above' }, base: 126, spread: 10 },
  { key: 'satisfaction', name: '群众满意度', category: 'services', unit: '%', threshold: { warning: 85, critical: 80, direction: 'below' }, base: 96.2, spread: 0.5 },
].map((i) => {
  const tr = trend(i.base, i.spread).map((v) => Math.max(0, v))
  const value = tr[tr.length - 1]
  const { base: _b, spread: _s, ...rest } = i
  return { ...rest, metric: i.key, aggregation: 'latest', value, trend: tr, status: status(value, i.threshold) }
})

function status(v: number, th: Json): string {
  const below = th.direction === 'below'
  const past = (l: number) => (below ? v <= l : v >= l)
  if (past(th.critical)) return 'critical'
  if (past(th.warning)) return 'warning'
  return 'normal'
}

const ALARM_TITLES = [
  ['critical', '河道水位超警戒', '东湖水位计-03', '东湖街道'],
  ['major', '井盖倾斜', '智能井盖-1127', '城关镇'],
  ['minor', '设备离线', '空气质量微站-08', '西山镇'],
  ['warning', '烟感浓度升高', '烟感-0356', '红旗街道'],
  ['major', '供水管网压力偏低', '压力计-12', '金桥镇'],
] as const

let alarmSeq = 100
function newAlarm(minutesAgo = 0): Json {
  const [severity, title, device_name, grid_name] = ALARM_TITLES[Math.floor(rnd() * ALARM_TITLES.length)]
  alarmSeq++
  return { id: alarmSeq, severity, title, device_name, grid_name, time: new Date(Date.now() - minutesAgo * 60000).toISOString(), state: 'active' }
}
const alarms: Json[] = Array.from({ length: 8 }, (_, i) => newAlarm(i * 17 + 3))

function screen(): Json {
  const online = 412 + Math.floor(rnd() * 10)
  return {
    county_name: '示范县',
    generated_at: new Date().toISOString(),
    indicators,
    alarms: alarms.slice(0, 30),
    grids,
    funnel: { reported: 386, accepted: 341, dispatched: 322, handled: 287, closed: 254 },
    overdue: [
      { id: 9001, title: '人行道板破损未修复', department: '县住建局', grid_name: '城关镇', deadline: new Date(Date.now() - 26 * 3600e3).toISOString(), overdue_hours: 26, level: 'supervise' },
      { id: 9002, title: '占道经营反复回潮', department: '县城管局', grid_name: '东湖街道', deadline: new Date(Date.now() - 9 * 3600e3).toISOString(), overdue_hours: 9, level: 'urge' },
      { id: 9003, title: '路灯成片不亮', department: '县城管局', grid_name: '红旗街道', deadline: new Date(Date.now() - 5 * 3600e3).toISOString(), overdue_hours: 5, level: 'urge' },
      { id: 9004, title: '雨水井堵塞积水', department: '县水利局', grid_name: '南河乡', deadline: new Date(Date.now() - 3 * 3600e3).toISOString(), overdue_hours: 3, level: 'urge' },
    ],
    projects: {
      green: 18,
      yellow: 5,
      red: 2,
      items: [
        { id: 1, name: '县城污水处理厂提标改造', status: 'red', stage: '建设', progress: 0.42 },
        { id: 2, name: '东湖片区老旧小区改造', status: 'yellow', stage: '建设', progress: 0.61 },
        { id: 3, name: '新能源电池材料产业园', status: 'yellow', stage: '开工', progress: 0.18 },
        { id: 4, name: 'G236 国道改线工程', status: 'green', stage: '建设', progress: 0.77 },
        { id: 5, name: '县人民医院新院区', status: 'green', stage: '竣工', progress: 0.96 },
        { id: 6, name: '智慧水务一期', status: 'red', stage: '建设', progress: 0.33 },
      ],
    },
    devices: { online, total: 448, fault: 6 },
  }
}

// Collections shaped like app/org and app/audit answer them.
const departments = [
  { id: 1, name: '县城市运行管理中心', code: 'YXZX', kind: '委办局', phone: '0550-1234567' },
  { id: 2, name: '县城管局', code: 'CGJ', kind: '委办局', phone: '' },
  { id: 3, name: '县住建局', code: 'ZJJ', kind: '委办局', phone: '' },
  { id: 4, name: '县生态环境分局', code: 'STHJ', kind: '委办局', phone: '' },
  { id: 5, name: '县水利局', code: 'SLJ', kind: '委办局', phone: '' },
  ...TOWNS.map((n, i) => ({ id: 10 + i, name: `${n}人民政府`, code: '', kind: '乡镇', phone: '' })),
]
const gridRows = grids.features.map((f: Json, i: number) => ({ id: i + 1, code: f.properties.code, name: f.properties.name, level: 2, parent_code: '34112200000000' }))
const userRows = users.map(({ password: _p, permissions: _q, scope: _s, ...u }) => ({ ...u, disabled: false, created_at: '2026-11-01T08:00:00+08:00', last_login_at: new Date().toISOString() }))
const audit = Array.from({ length: 57 }, (_, i) => ({
  index: 5000 - i,
  time: new Date(Date.now() - i * 3600e3).toISOString(),
  actor: `user:${users[i % users.length].id}`,
  actor_name: users[i % users.length].name,
  type: ['auth.login', 'case.dispatch', 'iot.device.create', 'org.user.update'][i % 4],
  error: i % 9 === 0 ? { code: 'unauthorized', message: 'invalid username or password' } : undefined,
}))

// GET /api/v1/me as app/org answers it (org.Me).
function meOf(u: MockUser): Json {
  const { password: _p, ...pub } = u
  return { ...pub, department: u.dept_id ? { id: u.dept_id, name: u.dept_name } : undefined, county: { name: '示范县' }, token_kind: 'session', must_change_password: false }
}

const sessions = new Map<string, MockUser>()
let needsSetup = process.env.YW_MOCK_SETUP === '1'
const clients = new Set<ServerResponse>()
let eventIndex = 1000

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers })
  res.end(body === undefined ? '' : JSON.stringify(body))
}
function fail(res: ServerResponse, status: number, code: string, message: string, fields?: Json): void {
  send(res, status, { error: { code, message, fields } })
}
async function readBody(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  try {
    return JSON.parse(Buffer.concat(chunks).toString() || '{}')
  } catch {
    return {}
  }
}
function who(req: IncomingMessage): MockUser | null {
  const h = req.headers.authorization
  let tok = h?.startsWith('Bearer ') ? h.slice(7) : ''
  if (!tok) tok = /(?:^|;\s*)yw_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? ''
  return sessions.get(tok) ?? null
}
function page(res: ServerResponse, url: URL, rows: Json[]): void {
  const q = (url.searchParams.get('q') ?? '').toLowerCase()
  const filtered = q ? rows.filter((r) => JSON.stringify(r).toLowerCase().includes(q)) : rows
  const limit = Number(url.searchParams.get('limit') ?? 20)
  const offset = Number(url.searchParams.get('offset') ?? 0)
  send(res, 200, { items: filtered.slice(offset, offset + limit), total: filtered.length })
}

export function broadcast(type: string, data: Json): void {
  eventIndex++
  const msg = JSON.stringify({ type, index: eventIndex, time: new Date().toISOString(), data })
  for (const c of clients) c.write(`id: ${eventIndex}\nevent: ${type}\ndata: ${msg}\n\n`)
}

let ticker: ReturnType<typeof setInterval> | null = null
function startTicker(): void {
  if (ticker) return
  let n = 0
  ticker = setInterval(() => {
    n++
    for (const c of clients) c.write(': ping\n\n')
    if (clients.size === 0) return
    const ind = indicators[Math.floor(rnd() * indicators.length)]
    const last = ind.trend[ind.trend.length - 1]
    const v = Math.max(0, Math.round((last + (rnd() - 0.5) * (Math.abs(last) * 0.05 + 0.1)) * 100) / 100)
    ind.value = v
    ind.trend = [...ind.trend.slice(-23), v]
    ind.status = status(v, ind.threshold)
    broadcast('indicator.updated', { key: ind.key, value: v, status: ind.status })
    if (n % 4 === 0) {
      const a = newAlarm()
      alarms.unshift(a)
      alarms.length = Math.min(alarms.length, 50)
      const g = grids.features[Math.floor(rnd() * grids.features.length)]
      g.properties.open_cases++
      broadcast('alarm.raised', a)
    }
  }, 3000)
  ticker.unref?.()
}

function middleware(): Connect.NextHandleFunction {
  return async (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://mock')
    const p = url.pathname
    if (!p.startsWith('/api/')) return next()
    const m = req.method ?? 'GET'

    if (p === '/api/health') return send(res, 200, { node_id: 'mock', state: 'leader', leader: 'mock', applied_index: eventIndex })
    if (p === '/api/setup/status') return send(res, 200, { needs_setup: needsSetup, local_only: true, from_local: true })
    if (p === '/api/setup' && m === 'POST') {
      if (!needsSetup) return fail(res, 409, 'setup_done', 'setup already done')
      const b = await readBody(req)
      if (!b.username || !b.password || String(b.password).length < 8) return fail(res, 400, 'invalid', 'invalid', { password: 'too_short' })
      users[0].username = b.username
      users[0].password = b.password
      needsSetup = false
      const token = `mock-setup-${Date.now().toString(36)}`
      sessions.set(token, users[0])
      return send(res, 201, { token, user: meOf(users[0]) }, { 'Set-Cookie': `yw_session=${token}; Path=/; HttpOnly; SameSite=Lax` })
    }
    if (p === '/api/v1/auth/login' && m === 'POST') {
      const b = await readBody(req)
      const u = users.find((x) => x.username === b.username && x.password === b.password)
      if (!u) return fail(res, 401, 'unauthorized', 'invalid username or password')
      const token = `mock-${u.id}-${Date.now().toString(36)}`
      sessions.set(token, u)
      return send(res, 200, { token, expires_at: new Date(Date.now() + 12 * 3600e3).toISOString(), user: meOf(u) }, { 'Set-Cookie': `yw_session=${token}; Path=/; HttpOnly; SameSite=Lax` })
    }
    if (p === '/api/mock/emit' && m === 'POST') {
      const b = await readBody(req)
      broadcast(b.type, b.data ?? {})
      return send(res, 200, { ok: true, clients: clients.size })
    }

    const u = who(req)
    if (!u) return fail(res, 401, 'unauthorized', 'authentication required')

    if (p === '/api/v1/auth/logout') return send(res, 200, { ok: true }, { 'Set-Cookie': 'yw_session=; Path=/; Max-Age=0' })
    if (p === '/api/v1/me') return send(res, 200, meOf(u))
    if (p === '/api/v1/me/password' && m === 'POST') {
      const b = await readBody(req)
      if (b.old_password !== u.password) return fail(res, 400, 'wrong_password', 'old password is wrong', { old_password: 'invalid' })
      if (String(b.new_password ?? '').length < 8) return fail(res, 400, 'weak_password', 'too short', { new_password: 'too_short' })
      u.password = b.new_password
      return send(res, 204, undefined)
    }
    if (p === '/api/v1/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
      res.write('retry: 3000\n: hello\n\n')
      clients.add(res)
      startTicker()
      req.on('close', () => clients.delete(res))
      return
    }
    const can = (perm: string) => u.permissions.includes('*') || u.permissions.includes(perm)
    if (p === '/api/v1/dashboard/screen') return can('dashboard.read') ? send(res, 200, screen()) : fail(res, 403, 'forbidden', 'forbidden')
    if (p === '/api/v1/departments') return page(res, url, departments)
    if (p === '/api/v1/grids') return page(res, url, gridRows)
    if (p === '/api/v1/users') return can('user.read') ? page(res, url, userRows) : fail(res, 403, 'forbidden', 'forbidden')
    if (p === '/api/v1/audit') return can('audit.read') ? page(res, url, audit) : fail(res, 403, 'forbidden', 'forbidden')
    if (p === '/api/v1/search') {
      const q = url.searchParams.get('q') ?? ''
      const items = [
        ...grids.features.filter((f: Json) => f.properties.name.includes(q)).map((f: Json) => ({ type: 'case', id: f.properties.code, title: `${f.properties.name} 在办事件 ${f.properties.open_cases} 件` })),
        ...indicators.filter((i) => i.name.includes(q)).map((i) => ({ type: 'device', id: i.key, title: i.name })),
      ]
      return send(res, 200, { items, total: items.length })
    }
    if (p === '/api/v1/admin/ops') return can('system.admin') ? send(res, 200, opsOverview()) : fail(res, 403, 'forbidden', 'forbidden')
    if (p === '/api/v1/admin/backups') {
      if (!can('system.admin')) return fail(res, 403, 'forbidden', 'forbidden')
      if (m === 'POST') {
        const now = new Date()
        const rec = { id: backups.length + 1, node_id: 'mock', file: `yiwang-${now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}-${eventIndex}.backup`, started_at: now.toISOString(), finished_at: now.toISOString(), ok: true, size: 1_843_200, store_index: eventIndex, trigger: 'manual' }
        backups.unshift(rec)
        return send(res, 201, rec)
      }
      return send(res, 200, { items: backups.slice(0, 20), total: backups.length })
    }
    return fail(res, 404, 'not_found', `no route ${m} ${p}`)
  }
}

// Operations page (app/ops): GET /api/v1/admin/ops and the backup history.
const backups: Json[] = [
  { id: 2, node_id: 'mock', file: 'yiwang-20261205-023000-81234.backup', started_at: '2026-12-04T18:30:00Z', finished_at: '2026-12-04T18:30:02Z', ok: true, size: 1_835_008, store_index: 81234, trigger: 'schedule' },
  { id: 1, node_id: 'mock', file: '(none)', started_at: '2026-12-03T18:30:00Z', finished_at: '2026-12-03T18:30:00Z', ok: false, error: 'backup directory: mkdir /mnt/usb/yiwang: no such file or directory (is the disk mounted?)', size: 0, store_index: 0, trigger: 'schedule' },
]
function opsOverview(): Json {
  const gib = 1 << 30
  return {
    time: new Date().toISOString(),
    version: 'mock',
    raft: { node_id: 'mock', state: 'leader', leader: 'mock', applied_index: eventIndex, commit_index: eventIndex, lag: 0, term: 3,
      nodes: [
        { id: 'mock', raft_addr: '10.0.0.5:7946', http_addr: 'http://10.0.0.5:8080', suffrage: 'voter', version: 'mock' },
        { id: 'yw2', raft_addr: '10.0.0.6:7946', http_addr: 'http://10.0.0.6:8080', suffrage: 'voter', version: 'mock' },
      ] },
    disk: { path: '/var/lib/yiwang', total_bytes: 100 * gib, free_bytes: 8 * gib, used_bytes: 92 * gib, used_percent: 92 },
    backup_disk: { path: '/mnt/backup/yiwang', total_bytes: 500 * gib, free_bytes: 420 * gib, used_bytes: 80 * gib, used_percent: 16 },
    data_dir_bytes: 3 * gib, database_bytes: 2 * gib, raft_bytes: 600 << 20, search_index_bytes: 300 << 20,
    broker: { running: true, address: ':1883', connections: 24, messages_in_per_s: 12.5, messages_out_per_s: 0.2, readings: 123456, dropped: 0 },
    live_connections: clients.size,
    process: { rss_bytes: 180 << 20, heap_bytes: 90 << 20, goroutines: 143, uptime_seconds: 93784, go_version: 'go1.26' },
    checks: [{ name: 'store', ok: true }, { name: 'mqtt', ok: true }],
    warnings: [{ kind: 'disk', message: 'the disk of the data directory /var/lib/yiwang is 92.0% full (8.0 GiB free of 100.0 GiB; warning at 90%)', short: '/var/lib/yiwang 92.0% (8.0 GiB free)',
      disk: { path: '/var/lib/yiwang', total_bytes: 100 * gib, free_bytes: 8 * gib, used_bytes: 92 * gib, used_percent: 92 }, since: '2026-12-05T08:00:00Z' }],
    backup: { enabled: true, dir: '/mnt/backup/yiwang', at: '02:30', keep: 7, on_this_node: true, running: false, next_due: '2026-12-05T18:30:00Z',
      last: backups[0], last_ok: backups.find((b) => b.ok), files: backups.filter((b) => b.ok).map((b) => ({ name: b.file, size: b.size, mod_time: b.finished_at })) },
  }
}

export function devMock(): Plugin {
  return {
    name: 'yiwang-dev-mock',
    apply: () => true,
    configureServer(server) {
      server.middlewares.use(middleware())
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware())
    },
  }
}
