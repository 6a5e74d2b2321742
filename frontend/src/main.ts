import { createApp } from 'vue'
import { createPinia } from 'pinia'
import 'element-plus/dist/index.css'
import 'element-plus/theme-chalk/dark/css-vars.css'
import './styles/main.css'
import App from './App.vue'
import { i18n } from './locales'
import { router } from './router'
import { setUnauthorizedHandler } from './api/client'
import { useAuth } from './stores/auth'
import { applyTheme, useSettings } from './stores/settings'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(i18n)

const settings = useSettings(pinia)
applyTheme(settings.theme)

setUnauthorizedHandler(() => {
  const auth = useAuth(pinia)
  const wasIn = auth.loggedIn
  auth.clear()
  const cur = router.currentRoute.value
  if (!cur.meta.public) router.replace({ name: 'login', query: { redirect: cur.fullPath, expired: wasIn ? '1' : undefined } })
})

app.use(router)
app.mount('#app')
