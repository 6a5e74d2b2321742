// Shared by the page checks (cases.mjs, iot.mjs, plugins.mjs): log in
// through the console's login form and wait for the menu.
export async function loginUI(page, base, user, pass) {
  await page.goto(base + '/login', { waitUntil: 'domcontentloaded' })
  await page.waitForSelector('[data-testid=login-form]', { timeout: 10000 })
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', pass)
  await page.click('[data-testid=login-submit]')
  await page.waitForSelector('[data-testid=menu]', { timeout: 10000 })
}
