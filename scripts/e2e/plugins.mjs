// End-to-end check of the plugins page 插件管理 against a running yiwang
// (playwright-core + Debian's /usr/bin/chromium; nothing is downloaded).
//
//   E2E_BASE_URL=http://127.0.0.1:18559 E2E_USER=admin E2E_PASS=... \
//   E2E_YWP=/tmp/plugsrc/lora-water-1.0.0.ywp node plugins.mjs
//
// E2E_YWP is an UNSIGNED package (e.g. plugins/examples/decoder built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm, then
// `yiwang plugin pack DIR`) whose plugin is not installed yet. Picks the file
// in the install dialog, checks the manifest and the unsigned override gate
// the install, installs, disables / enables, opens the logs drawer and
// removes the plugin. Needs system.admin. Exit code 1 when a check fails.
// E2E_OUT=DIR also saves screenshots of the approval dialog and the logs.
import { chromium } from 'playwright-core'
import { loginUI } from './login.mjs'
import { readFileSync } from 'node:fs'

const base = (process.env.E2E_BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '')
const user = process.env.E2E_USER || 'admin'
const pass = process.env.E2E_PASS || 'admin123'
const ywp = process.env.E2E_YWP
if (!ywp) {
  console.error('plugins.mjs: set E2E_YWP to an unsigned .ywp package')
  process.exit(2)
}
// The plugin's name, from the package's file name NAME-VERSION.ywp (what `yiwang plugin pack` writes).
const manifestName = (ywp.match(/([a-z][a-z0-9-]*)-\d+\.\d+\.\d+[^/]*\.ywp$/) || [])[1] || ''

let failed = 0
function check(name, ok, detail = '') {
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`)
}
readFileSync(ywp) // fail early when absent

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] })
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
try {
  await loginUI(page, base, user, pass)

  await page.goto(base + '/system/plugins', { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-testid=plugins]', { timeout: 10000 })
  check('plugins page opens', true)

  await page.click('[data-testid=plugin-install]')
  await page.setInputFiles('[data-testid=plugin-file]', ywp)
  await page.waitForSelector('[data-testid=plugin-manifest]', { timeout: 10000 })
  const man = await page.textContent('[data-testid=plugin-manifest]')
  check('manifest shown for approval', !!manifestName && man.includes(manifestName), manifestName)
  if (process.env.E2E_OUT) {
    await page.waitForTimeout(600) // let the tags and the drawer finish their transitions
    await page.screenshot({ path: `${process.env.E2E_OUT}/plugins-approve.png` })
  }
  const approve = page.locator('[data-testid=plugin-approve]')
  check('unsigned package: install disabled until the override is ticked', await approve.isDisabled())
  await page.click('[data-testid=plugin-allow-unsigned]')
  check('override ticked: install enabled', await approve.isEnabled())
  await approve.click()
  const row = page.locator('[data-testid=plugin-table] .el-table__body tr', { hasText: manifestName })
  await row.waitFor({ timeout: 15000 })
  check('installed plugin listed as enabled', (await row.textContent()).includes(await page.evaluate(() => document.documentElement.lang.startsWith('en') ? 'Enabled' : '已启用')))

  await row.locator('[data-testid=plugin-disable]').click()
  await row.locator('[data-testid=plugin-enable]').waitFor({ timeout: 10000 })
  check('disable shows the reason', (await row.textContent()).includes('disabled by'))
  await row.locator('[data-testid=plugin-enable]').click()
  await row.locator('[data-testid=plugin-disable]').waitFor({ timeout: 10000 })
  check('enable again', true)

  await row.locator('[data-testid=plugin-logs]').click()
  await page.waitForSelector('[data-testid=plugin-logs-drawer]', { state: 'visible', timeout: 10000 })
  check('logs drawer opens', true)
  if (process.env.E2E_OUT) {
    await page.waitForTimeout(600) // let the tags and the drawer finish their transitions
    await page.screenshot({ path: `${process.env.E2E_OUT}/plugins-logs.png` })
  }
  await page.keyboard.press('Escape')

  // Installing the same version again: the server's conflict message is shown.
  await page.click('[data-testid=plugin-install]')
  await page.setInputFiles('[data-testid=plugin-file]', ywp)
  await page.waitForSelector('[data-testid=plugin-manifest]', { timeout: 10000 })
  await page.click('[data-testid=plugin-allow-unsigned]')
  await page.click('[data-testid=plugin-approve]')
  const err = page.locator('[data-testid=plugin-install-error]')
  await err.waitFor({ timeout: 10000 })
  check('server refusal shown as its message', (await err.textContent()).includes('already installed'), (await err.textContent()).trim())
  await page.keyboard.press('Escape')

  await row.locator('[data-testid=plugin-remove]').click()
  await page.click('.el-message-box__btns .el-button--primary')
  await row.waitFor({ state: 'detached', timeout: 10000 })
  check('removed after confirm', true)
} catch (e) {
  failed++
  console.log('FAIL', e.message.split('\n')[0])
  await page.screenshot({ path: '/tmp/yiwang-e2e-plugins-fail.png' }).catch(() => {})
} finally {
  await browser.close()
}
process.exit(failed ? 1 : 0)
