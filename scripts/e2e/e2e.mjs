// End-to-end check of the yiwang console in a real Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded).
//
// Configuration (environment; run.sh fills the first three from arguments):
//   E2E_BASE_URL       server base URL, e.g. http://127.0.0.1:8080
//   E2E_USER, E2E_PASS main account (should be allowed to open /screen)
//   E2E_EXPECT_MENU    comma list of data-menu keys the main account must see
//   E2E_ROLES          more accounts: "user:pass:must,see:must,not;user2:..."
//   E2E_ROLES_RAW      more accounts without expectations: "user:pass;user2:pass2";
//                      the expected menu then comes from ROLE_MENU below, by the
//                      account's first role as GET /api/v1/me reports it
//   E2E_OUT            screenshot folder (default: a new /tmp/yiwang-e2e-* dir)
//   E2E_LIVE_CMD       shell command that makes the server emit a live change
//                      (e.g. a mosquitto_pub of a reading over the threshold)
//   E2E_LIVE_TEXT      text that must then appear on /screen …
//   E2E_LIVE_INDICATOR …or an indicator key whose value must change
//   E2E_LIVE_REFETCH=1 …or just a refetch of the screen data caused by the event
//   E2E_LIVE_TIMEOUT_MS how long to wait for it (default 2000)
//   E2E_ALLOW_PARTIAL_SCREEN=1  while the server has no dashboard API (the
//                      screen shows only the grid map), report missing
//                      indicators as SKIP instead of FAIL
//   E2E_MIN_ALARMS     the screen's alarm feed must list at least this many
//   E2E_DUTY=1         check the duty pages (roster, handovers, messages) and
//                      send a message from the messages page
//   E2E_KB=1           import a small document through the API (needs kb.write),
//                      find it on the knowledge search page and open the reader
//   CHROMIUM           browser path (default /usr/bin/chromium)
import { chromium } from 'playwright-core'
import { execSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const base = (process.env.E2E_BASE_URL || 'http://127.0.0.1:4173').replace(/\/$/, '')
const user = process.env.E2E_USER || 'admin'
const pass = process.env.E2E_PASS || 'admin123'
const out = process.env.E2E_OUT || mkdtempSync(join(tmpdir(), 'yiwang-e2e-'))
mkdirSync(out, { recursive: true })
const liveTimeout = Number(process.env.E2E_LIVE_TIMEOUT_MS || 2000)

// What each built-in role must and must not see, from the role matrix in
// app/httpapi/perms.go (menu keys are the data-menu attributes).
const ROLE_MENU = {
  admin: { must: ['roster', 'screen-link', 'case-list', 'devices', 'rules', 'project-list', 'enterprises', 'kb-search', 'kb-documents', 'departments', 'users', 'audit', 'indicators'], not: [] },
  commander: { must: ['roster', 'screen-link', 'case-list', 'devices', 'project-list', 'enterprises', 'kb-search', 'kb-documents', 'departments', 'users'], not: ['audit', 'rules', 'indicators'] },
  operator: { must: ['roster', 'screen-link', 'case-list', 'devices', 'alarms', 'kb-search', 'kb-documents', 'users'], not: ['audit', 'rules', 'indicators'] },
  handler: { must: ['roster', 'case-list', 'devices', 'project-list', 'kb-search', 'kb-documents', 'users'], not: ['audit', 'rules', 'indicators'] },
  grid_worker: { must: ['roster', 'case-list', 'kb-search', 'kb-documents', 'departments'], not: ['audit', 'rules', 'users', 'indicators'] },
  leader: { must: ['roster', 'screen-link', 'case-list', 'project-list', 'users'], not: ['audit', 'rules', 'indicators'] },
  viewer: { must: ['roster', 'screen-link', 'case-list', 'project-list', 'enterprises', 'kb-search', 'kb-documents'], not: ['audit', 'rules', 'users', 'indicators'] },
}

const results = []
let failed = 0
function check(name, ok, detail = '') {
  results.push({ name, ok, detail })
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`)
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--lang=zh-CN'],
})

async function newPage(width = 1366, height = 768) {
  const ctx = await browser.newContext({ viewport: { width, height }, locale: 'zh-CN', deviceScaleFactor: 1 })
  const page = await ctx.newPage()
  page.errors = []
  page.on('pageerror', (e) => page.errors.push(String(e)))
  return page
}

async function login(page, u, p) {
  const t0 = Date.now()
  await page.goto(base + '/login', { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-testid=login-form]', { timeout: 10000 })
  const firstScreen = Date.now() - t0
  await page.fill('input[name=username]', u)
  await page.fill('input[name=password]', p)
  await page.click('[data-testid=login-submit]')
  await page.waitForSelector('[data-testid=menu]', { timeout: 10000 })
  return firstScreen
}

async function menuKeys(page) {
  return page.$$eval('[data-testid=menu] [data-menu]', (els) => els.map((e) => e.getAttribute('data-menu')))
}

function checkMenu(label, keys, must, mustNot) {
  for (const k of must.filter(Boolean)) check(`${label}: menu shows ${k}`, keys.includes(k), keys.includes(k) ? '' : keys.join(','))
  for (const k of mustNot.filter(Boolean)) check(`${label}: menu hides ${k}`, !keys.includes(k), keys.includes(k) ? keys.join(',') : '')
}

try {
  // 1. Login page, first-screen time, then the shell.
  const page = await newPage()
  await page.goto(base + '/login', { waitUntil: 'load' })
  await page.waitForSelector('[data-testid=login-form]')
  await page.screenshot({ path: join(out, '01-login.png') })
  // Wrong password shows a localized error.
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', pass + '-wrong')
  await page.click('[data-testid=login-submit]')
  const err = await page.waitForSelector('[data-testid=login-error]', { timeout: 5000 }).then((e) => e.textContent()).catch(() => '')
  check('wrong password shows an error', !!err, err?.trim())

  const firstScreen = await login(page, user, pass)
  check('login page first screen < 1.5 s', firstScreen < 1500, `${firstScreen} ms`)
  const keys = await menuKeys(page)
  check('menu rendered after login', keys.length > 0, keys.join(','))
  checkMenu(user, keys, (process.env.E2E_EXPECT_MENU || '').split(','), [])
  const scope = await page.textContent('[data-testid=scope]').catch(() => '')
  check('department scope shown in header', !!scope?.trim(), scope?.trim())
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(out, '02-home.png') })

  // A generic list page, if this account can see one.
  const listPath = ['departments', 'users', 'grids', 'audit'].map((k) => ({ k, p: `/system/${k}` })).find((x) => keys.includes(x.k))
  if (listPath) {
    await page.goto(base + listPath.p, { waitUntil: 'domcontentloaded' })
    await page.waitForSelector('.el-table', { timeout: 10000 })
    check(`list page ${listPath.p} renders`, true)
    await page.screenshot({ path: join(out, '03-list.png') })
  }

  // 2. Command-centre screen at 1366×768 and 1920×1080.
  for (const [w, h] of [
    [1366, 768],
    [1920, 1080],
  ]) {
    await page.setViewportSize({ width: w, height: h })
    await page.goto(base + '/screen', { waitUntil: 'domcontentloaded' })
    const ind = await page.waitForSelector('[data-testid=indicator]', { timeout: 10000 }).then(() => true).catch(() => false)
    const partial = (await page.locator('[data-testid=screen-partial]').count()) > 0
    if (!ind && partial && process.env.E2E_ALLOW_PARTIAL_SCREEN === '1') console.log(`SKIP screen ${w}x${h}: indicators render — the server has no /api/v1/dashboard/screen yet`)
    else check(`screen ${w}x${h}: indicators render`, ind, `${await page.locator('[data-testid=indicator]').count()} indicators`)
    const canvas = await page.waitForSelector('[data-testid=case-map] canvas', { timeout: 10000 }).then(() => true).catch(() => false)
    const painted = canvas && (await page.$eval('[data-testid=case-map] canvas', (c) => {
      const ctx = c.getContext('2d')
      const d = ctx.getImageData(0, 0, c.width, c.height).data
      let n = 0
      for (let i = 3; i < d.length; i += 4 * 50) if (d[i] > 0) n++
      return n
    })) > 50
    check(`screen ${w}x${h}: case map drawn`, !!painted)
    const nAlarms = await page.locator('[data-testid=alarm]').count()
    check(`screen ${w}x${h}: alarm feed present`, (await page.locator('[data-testid=alarm-feed]').count()) === 1, `${nAlarms} alarms`)
    if (process.env.E2E_MIN_ALARMS) check(`screen ${w}x${h}: alarm feed lists alarms`, nAlarms >= Number(process.env.E2E_MIN_ALARMS), `${nAlarms} alarms`)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1 || document.documentElement.scrollHeight > window.innerHeight + 1)
    check(`screen ${w}x${h}: fits the viewport`, !overflow)
    await page.waitForTimeout(800) // let chart animations settle
    await page.screenshot({ path: join(out, `04-screen-${w}x${h}.png`) })
  }

  // 3. Live update without reload.
  if (process.env.E2E_LIVE_CMD) {
    const key = process.env.E2E_LIVE_INDICATOR
    const text = process.env.E2E_LIVE_TEXT
    const refetch = process.env.E2E_LIVE_REFETCH === '1'
    const loadsBefore = Number(await page.getAttribute('[data-testid=screen]', 'data-loads'))
    await page.waitForFunction(() => document.querySelector('[data-testid=screen-live]')?.className.includes('open'), null, { timeout: 10000 }).catch(() => {})
    const before = key ? await page.textContent(`[data-testid=indicator][data-key="${key}"] [data-testid=indicator-value]`).catch(() => null) : null
    const t0 = Date.now()
    execSync(process.env.E2E_LIVE_CMD, { stdio: 'inherit', shell: '/bin/sh' })
    const ok = await page
      .waitForFunction(
        ({ key, before, text, refetch, loadsBefore }) => {
          const screen = document.querySelector('[data-testid=screen]')
          if (refetch && Number(screen?.getAttribute('data-loads')) > loadsBefore) return true
          if (text && screen?.textContent?.includes(text)) return true
          if (key) {
            const v = document.querySelector(`[data-testid=indicator][data-key="${key}"] [data-testid=indicator-value]`)?.textContent
            return v != null && v !== before
          }
          return false
        },
        { key, before, text, refetch, loadsBefore },
        { timeout: liveTimeout, polling: 50 },
      )
      .then(() => true)
      .catch(() => false)
    check(`live update shows on /screen within ${liveTimeout} ms`, ok, `${Date.now() - t0} ms`)
    await page.screenshot({ path: join(out, '05-screen-live.png') })
  }
  // 4. Duty pages (值班值守) against the server's roster, handovers and messages.
  if (process.env.E2E_DUTY === '1') {
    await page.setViewportSize({ width: 1366, height: 768 })
    for (const [path, name] of [
      ['/duty/roster', 'roster'],
      ['/duty/handover', 'handover'],
    ]) {
      await page.goto(base + path, { waitUntil: 'domcontentloaded' })
      const rows = await page.waitForSelector('.el-table__row', { timeout: 10000 }).then(() => page.locator('.el-table__row').count()).catch(() => 0)
      check(`duty ${name} page lists rows`, rows > 0, `${rows} rows`)
      if (name === 'handover') {
        const note = `e2e 交班 ${Date.now()}`
        try {
          await page.fill('[data-testid=handover-shift]', '白班')
          await page.fill('textarea[data-testid=handover-note], [data-testid=handover-note] textarea', note)
          await page.click('[data-testid=handover-submit]')
          const shown = await page.waitForFunction((x) => document.body.textContent.includes(x), note, { timeout: 5000 }).then(() => true).catch(() => false)
          check('handover written from the page shows in the list', shown)
        } catch (e) {
          check('handover written from the page shows in the list', false, String(e))
        }
      }
      await page.screenshot({ path: join(out, `07-duty-${name}.png`) })
    }
    await page.goto(base + '/duty/messages', { waitUntil: 'domcontentloaded' })
    const before = await page.waitForSelector('[data-testid=duty-message]', { timeout: 10000 }).then(() => page.locator('[data-testid=duty-message]').count()).catch(() => 0)
    check('duty messages page lists messages', before > 0, `${before} messages`)
    // Send one to the first department from the form; it shows in the list.
    const text = `e2e 值班消息 ${Date.now()}`
    try {
      await page.click('[data-testid=duty-to]')
      await page.click('.el-select-dropdown__item >> nth=0')
      await page.keyboard.press('Escape')
      await page.fill('textarea[data-testid=duty-body], [data-testid=duty-body] textarea', text)
      await page.click('[data-testid=duty-send]')
      const shown = await page.waitForFunction((x) => document.body.textContent.includes(x), text, { timeout: 5000 }).then(() => true).catch(() => false)
      check('duty message sent from the page shows in the list', shown)
    } catch (e) {
      check('duty message sent from the page shows in the list', false, String(e))
    }
    await page.screenshot({ path: join(out, '07-duty-messages.png') })
  }
  // Indicator configuration (大屏指标), when this account may edit it.
  if (process.env.E2E_DUTY === '1' && keys.includes('indicators')) {
    await page.goto(base + '/system/indicators', { waitUntil: 'domcontentloaded' })
    const rows = await page.waitForSelector('[data-testid=indicators] .el-table__row', { timeout: 10000 }).then(() => page.locator('[data-testid=indicators] .el-table__row').count()).catch(() => 0)
    check('indicator configuration lists the indicators', rows > 0, `${rows} indicators`)
    try {
      await page.click('[data-testid=indicator-new]')
      await page.fill('[data-testid=indicator-key]', 'e2e_open_cases')
      await page.fill('[data-testid=indicator-name]', 'E2E 在办案件')
      await page.click('[data-testid=indicator-metric]')
      await page.click('.el-select-dropdown__item:has-text("cases.open")')
      await page.click('[data-testid=indicator-save]')
      const added = await page.waitForSelector('[data-testid=indicators] .el-table__row:has-text("e2e_open_cases")', { timeout: 5000 }).then(() => true).catch(() => false)
      check('indicator created from the configuration page', added)
      await page.screenshot({ path: join(out, '08-indicators.png') })
      await page.goto(base + '/screen', { waitUntil: 'domcontentloaded' })
      const shown = await page.waitForSelector('[data-testid=indicator][data-key=e2e_open_cases]', { timeout: 10000 }).then(() => true).catch(() => false)
      check('new indicator shows on /screen', shown)
    } catch (e) {
      check('indicator created from the configuration page', false, String(e))
    }
  }
  // Knowledge base: import one document over the API, find it, read it.
  if (process.env.E2E_KB === '1') {
    const stamp = Date.now()
    const text = `关于开展知识库联调演练的通知\n第一条 为检验知识库检索，制定本通知（${stamp}）。\n第二条 联调演练由值班室组织，各部门配合。\n`
    const imp = await page.evaluate(async (t) => {
      const fd = new FormData()
      fd.append('file', new Blob([t], { type: 'text/plain' }), 'e2e-kb.txt')
      const r = await fetch('/api/v1/kb/import', { method: 'POST', body: fd, headers: { Authorization: 'Bearer ' + localStorage.getItem('yw_token') } })
      return { status: r.status, body: await r.json() }
    }, text)
    const docId = imp.body.id || imp.body.duplicate_of
    check('kb: document imported over the API', imp.status === 201 && !!docId, JSON.stringify(imp))
    // The index follows the store asynchronously: wait until it is searchable.
    const q = '联调演练'
    const t0 = Date.now()
    let found = false
    while (!found && Date.now() - t0 < 15000) {
      found = await page.evaluate(async ([q, id]) => {
        const r = await fetch('/api/v1/kb/search?facets=none&limit=50&q=' + encodeURIComponent(q), { headers: { Authorization: 'Bearer ' + localStorage.getItem('yw_token') } })
        return (await r.json()).hits.some((h) => h.id === id)
      }, [q, docId])
      if (!found) await page.waitForTimeout(200)
    }
    check('kb: imported document is searchable', found, `${Date.now() - t0} ms`)
    await page.goto(base + '/kb/search?q=' + encodeURIComponent(q), { waitUntil: 'domcontentloaded' })
    const hit = await page.waitForSelector('[data-testid=kb-hit] mark', { timeout: 10000 }).then(() => true).catch(() => false)
    check('kb: search page shows a highlighted hit', hit)
    await page.screenshot({ path: join(out, '09-kb-search.png') })
    try {
      // Earlier runs against the same server leave more copies: the new one
      // may not be on the first page, then open it by URL.
      const link = page.locator(`[data-testid=kb-hit] a[href*="${docId}"]`).first()
      if (await link.count()) await link.click()
      else await page.goto(`${base}/kb/reader?id=${docId}`, { waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=kb-doc-title]', { timeout: 10000 })
      const arts = await page.locator('[data-testid=kb-article-nav] a').count()
      check('kb: reader opens with the article list', arts >= 2, `${arts} articles`)
      await page.goto(`${base}/kb/reader?id=${docId}&art=art-2`, { waitUntil: 'domcontentloaded' })
      const deep = await page.waitForSelector('#kb-art-2.on', { timeout: 10000 }).then(() => true).catch(() => false)
      check('kb: deep link marks 第二条', deep)
      await page.screenshot({ path: join(out, '09-kb-reader.png') })
    } catch (e) {
      check('kb: reader opens with the article list', false, String(e))
    }
  }
  check('no uncaught page errors', page.errors.length === 0, page.errors.join(' | '))
  await page.context().close()

  // 5. Each extra role sees its own menu.
  const specs = [
    ...(process.env.E2E_ROLES || '').split(';').filter(Boolean).map((s) => ({ spec: s, raw: false })),
    ...(process.env.E2E_ROLES_RAW || '').split(';').filter(Boolean).map((s) => ({ spec: s, raw: true })),
  ]
  for (const { spec, raw } of specs) {
    const [u, ...rest] = spec.split(':')
    // Passwords may contain ':' in raw specs; expectations only in E2E_ROLES.
    const p = raw ? rest.join(':') : rest[0]
    let [must = '', mustNot = ''] = raw ? [] : rest.slice(1)
    const rp = await newPage()
    try {
      await login(rp, u, p)
      const k = await menuKeys(rp)
      check(`${u}: logged in`, k.length > 0, k.join(','))
      if (raw) {
        const me = await rp.evaluate(async () => (await fetch('/api/v1/me', { headers: { Authorization: 'Bearer ' + localStorage.getItem('yw_token') } })).json())
        const role = (me.roles || [])[0]
        const exp = ROLE_MENU[role]
        if (!exp) check(`${u}: known role`, false, String(role))
        else {
          must = exp.must.join(',')
          mustNot = exp.not.join(',')
        }
      }
      checkMenu(u, k, must.split(','), mustNot.split(','))
      await rp.screenshot({ path: join(out, `06-role-${u}.png`) })
    } catch (e) {
      check(`${u}: logged in`, false, String(e))
    }
    await rp.context().close()
  }
} catch (e) {
  check('e2e run', false, String(e?.stack || e))
} finally {
  await browser.close()
}

writeFileSync(join(out, 'results.json'), JSON.stringify({ base, failed, results }, null, 2))
console.log(`\nscreenshots and results.json in: ${out}`)
console.log(failed ? `${failed} check(s) FAILED` : 'all checks passed')
process.exit(failed ? 1 : 0)
