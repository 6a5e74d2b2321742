// End-to-end check of the IoT console pages against a running yiwang
// (playwright-core + Debian's /usr/bin/chromium; nothing is downloaded).
//
//   E2E_BASE_URL=http://127.0.0.1:18557 E2E_USER=admin E2E_PASS=... \
//   E2E_MQTT=127.0.0.1:18858 node iot.mjs
//
// Registers a device over the API, opens its detail page, publishes a
// reading with mosquitto_pub and waits for the value to show live; then
// creates a threshold rule, publishes past it, acknowledges the alarm on the
// alarm page, and checks the rule editor shows the server's field errors.
// Needs iot.write (admin). Exit code 1 when a check fails.
import { chromium } from 'playwright-core'
import { loginUI } from './login.mjs'
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const base = (process.env.E2E_BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '')
const user = process.env.E2E_USER || 'admin'
const pass = process.env.E2E_PASS || 'admin123'
const [mqttHost, mqttPort] = (process.env.E2E_MQTT || '127.0.0.1:1883').split(':')
const out = process.env.E2E_OUT || mkdtempSync(join(tmpdir(), 'yiwang-e2e-iot-'))
const liveTimeout = Number(process.env.E2E_LIVE_TIMEOUT_MS || 5000)

let failed = 0
function check(name, ok, detail = '') {
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`)
}

async function apiCall(token, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

function publish(dev, secret, values) {
  execFileSync('mosquitto_pub', ['-h', mqttHost, '-p', mqttPort, '-u', dev, '-P', secret, '-q', '1', '-t', `yw/${dev}/telemetry`, '-m', JSON.stringify({ values })])
}

const login = await apiCall(null, 'POST', '/api/v1/auth/login', { username: user, password: pass })
const token = login.token
const suffix = Date.now().toString(36)
const dev = await apiCall(token, 'POST', '/api/v1/devices', { id: `e2e-wl-${suffix}`, name: `E2E 水位计 ${suffix}`, type: 'water_level' })
check('device registered with a one-time secret', !!dev.secret, dev.id)

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] })
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
try {
  await loginUI(page, base, user, pass)

  // Device list → detail.
  await page.goto(`${base}/iot/devices?q=${dev.id}`, { waitUntil: 'domcontentloaded' })
  await page.waitForSelector(`text=${dev.id}`, { timeout: 10000 })
  await page.click(`text=${dev.id}`)
  await page.waitForURL(/\/iot\/device\?id=/, { timeout: 5000 }).catch(() => {})
  check('device list row opens the detail page', page.url().includes(`/iot/device?id=${dev.id}`), page.url())
  await page.waitForSelector('[data-testid=device-status]', { timeout: 10000 })
  // Let the live stream connect before publishing.
  await page.waitForTimeout(1500)

  const value = 1.23
  const t0 = Date.now()
  publish(dev.id, dev.secret, { water_level: value })
  const shown = await page
    .waitForFunction((v) => document.querySelector('[data-testid=latest-water_level]')?.textContent?.trim() === String(v), value, { timeout: liveTimeout })
    .then(() => true)
    .catch(() => false)
  check('published value shows live on the device page', shown, shown ? `${Date.now() - t0} ms after mosquitto_pub` : '')
  const chart = await page.waitForSelector('.metric-chart[data-metric=water_level] canvas', { timeout: 5000 }).then(() => true).catch(() => false)
  check('a chart is drawn for the metric', chart)
  await page.screenshot({ path: join(out, 'device-detail.png'), fullPage: true })

  // A malformed payload is counted and shown on the device page.
  execFileSync('mosquitto_pub', ['-h', mqttHost, '-p', mqttPort, '-u', dev.id, '-P', dev.secret, '-q', '1', '-t', `yw/${dev.id}/telemetry`, '-m', 'not json {'])
  await page.waitForTimeout(500)
  await page.reload({ waitUntil: 'domcontentloaded' })
  const malformed = await page.waitForSelector('[data-testid=malformed]', { timeout: 10000 }).then((e) => e.textContent()).catch(() => '')
  check('malformed payload count shows on the device page', Number(malformed) >= 1, `malformed=${malformed}`)

  // Rotate the secret: shown once in a dialog.
  await page.click('[data-testid=rotate]')
  await page.click('.el-message-box__btns .el-button--primary')
  const secret = await page.waitForSelector('[data-testid=secret]', { timeout: 5000 }).then((e) => e.textContent()).catch(() => '')
  check('rotated secret is shown once', !!secret && secret.trim() !== dev.secret && secret.trim().length > 8)
  const newSecret = secret.trim()
  await page.keyboard.press('Escape')

  // Rule editor: empty form → server field errors.
  await page.goto(base + '/iot/rules', { waitUntil: 'domcontentloaded' })
  await page.click('[data-testid=new-rule]')
  await page.click('[data-testid=save-rule]')
  const ferr = await page.waitForSelector('[data-testid=rule-form] .el-form-item__error', { timeout: 5000 }).then(() => true).catch(() => false)
  check('rule editor shows the server’s field errors', ferr)
  await page.keyboard.press('Escape')

  // Alarm: rule over the API, reading past it, acknowledge on the page.
  await apiCall(token, 'POST', '/api/v1/alarm-rules', { name: `e2e ${suffix}`, device_id: dev.id, metric: 'water_level', kind: 'threshold', op: 'gt', threshold: 3, severity: 'major' })
  await page.goto(`${base}/iot/alarms?q=${dev.id}`, { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('.el-table', { timeout: 10000 })
  await page.waitForTimeout(1000)
  publish(dev.id, newSecret, { water_level: 3.6 })
  const ackBtn = await page.waitForSelector('[data-testid=ack]', { timeout: liveTimeout }).then(() => true).catch(() => false)
  check('alarm appears live on the alarm page', ackBtn)
  if (ackBtn) {
    await page.click('[data-testid=ack]')
    await page.click('.el-message-box__btns .el-button--primary')
    const gone = await page.waitForSelector('[data-testid=ack]', { state: 'detached', timeout: 5000 }).then(() => true).catch(() => false)
    check('alarm acknowledged from the page', gone)
  }
  await page.screenshot({ path: join(out, 'alarms.png'), fullPage: true })
  // Device map: the grids and device points are drawn.
  await page.goto(base + '/iot/map', { waitUntil: 'domcontentloaded' })
  const map = await page.waitForSelector('[data-testid=device-map] canvas', { timeout: 10000 }).then(() => true).catch(() => false)
  check('device map is drawn', map)
  await page.waitForTimeout(500)
  await page.screenshot({ path: join(out, 'device-map.png') })
} catch (e) {
  check('no exception', false, String(e))
} finally {
  await browser.close()
}
console.log(`screenshots in ${out}`)
process.exit(failed ? 1 : 0)
