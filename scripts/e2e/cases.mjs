// End-to-end check of the case pages (issue 5) in a real Chromium:
// an operator opens a case from the list, registers (立案) a case from the
// dispatch queue on its detail page, and reports a new case on the intake form.
//
//   E2E_BASE_URL=http://127.0.0.1:18556 E2E_USER=operator E2E_PASS=… node scripts/e2e/cases.mjs
// Needs a server with cases in the dispatch queue (yiwang serve --demo has some).
import { chromium } from 'playwright-core'
import { loginUI } from './login.mjs'

const base = (process.env.E2E_BASE_URL || 'http://127.0.0.1:4173').replace(/\/$/, '')
const user = process.env.E2E_USER || 'operator'
const pass = process.env.E2E_PASS || 'operator123'
let failed = 0
function check(name, ok, detail = '') {
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`)
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--lang=zh-CN'],
})
try {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await loginUI(page, base, user, pass)

  // 1. The list's rows open the detail page.
  await page.goto(base + '/cases', { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('.el-table__row', { timeout: 10000 })
  await page.click('.el-table__row >> nth=0')
  await page.waitForSelector('[data-testid=case-state]', { timeout: 10000 })
  check('list row opens the case detail', /\/cases\/detail\?id=\d+/.test(page.url()), page.url())
  const steps0 = await page.$$eval('[data-testid=case-timeline] .el-timeline-item', (e) => e.length)
  check('detail shows the timeline', steps0 > 0, `${steps0} steps`)
  // 相关政策: the knowledge base's recommendation for this case's facts
  const rel = await page.waitForSelector('[data-testid=kb-related]', { timeout: 10000 }).then(() => true).catch(() => false)
  const relErr = rel ? await page.$$eval('[data-testid=kb-related] .el-alert--error', (e) => e.length) : -1
  check('detail shows the related-policies panel', rel && relErr === 0, `panel ${rel}, errors ${relErr}`)

  // 2. Register a case of the dispatch queue from its detail page.
  const target = await page.evaluate(async () => {
    const r = await fetch('/api/v1/cases?queue=dispatch&limit=100', { headers: { Authorization: 'Bearer ' + localStorage.getItem('yw_token') } })
    const p = await r.json()
    return (p.items || []).find((c) => c.category_code && c.grid_code && (c.allowed || []).includes('register'))?.id
  })
  check('dispatch queue has a case to register', !!target, String(target))
  if (target) {
    await page.goto(`${base}/cases/detail?id=${target}`, { waitUntil: 'domcontentloaded' })
    await page.waitForSelector('[data-testid=case-act-register]', { timeout: 10000 })
    const before = await page.textContent('[data-testid=case-state]')
    const t0 = Date.now()
    await page.click('[data-testid=case-act-register]')
    await page.waitForSelector('[data-testid=case-form-submit]', { state: 'visible' })
    await page.fill('textarea[data-testid=case-form-note], [data-testid=case-form-note] textarea', 'e2e 立案')
    await page.click('[data-testid=case-form-submit]')
    await page.waitForFunction((b) => document.querySelector('[data-testid=case-state]')?.textContent?.trim() !== b.trim(), before, { timeout: 10000 }).catch(() => {})
    const after = await page.textContent('[data-testid=case-state]')
    check('register moves the case on', after.trim() !== before.trim(), `${before.trim()} → ${after.trim()} in ${Date.now() - t0} ms`)
    const notes = await page.textContent('[data-testid=case-timeline]')
    check('timeline shows the note', notes.includes('e2e 立案'))
    const map = await page.waitForSelector('[data-testid=case-map] canvas', { timeout: 5000 }).catch(() => null)
    check('detail draws the grid map', !!map)
    if (process.env.E2E_SHOT) await page.screenshot({ path: process.env.E2E_SHOT, fullPage: true })
  }

  // 3. Intake: report a case, land on its detail.
  await page.goto(base + '/cases/intake', { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-testid=intake-title]', { timeout: 10000 })
  const title = 'e2e 上报 ' + Date.now()
  await page.fill('input[data-testid=intake-title], [data-testid=intake-title] input', title)
  await page.click('[data-testid=intake-submit]')
  await page.waitForURL(/\/cases\/detail\?id=\d+/, { timeout: 10000 }).catch(() => {})
  await page.waitForSelector('[data-testid=case-state]', { timeout: 10000 }).catch(() => {})
  const h = (await page.textContent('.page-title').catch(() => '')) || ''
  check('intake opens the new case', h.includes(title), h)
  check('no page errors', errors.length === 0, errors.join(' | '))
} finally {
  await browser.close()
}
process.exit(failed ? 1 : 0)
