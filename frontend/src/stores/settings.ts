import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import { i18n, type Locale, initialLocale } from '@/locales'

export type Theme = 'light' | 'dark' | 'auto'

function load<T extends string>(key: string, allowed: readonly T[], def: T): T {
  try {
    const v = localStorage.getItem(key) as T | null
    if (v && allowed.includes(v)) return v
  } catch {
    /* ignore */
  }
  return def
}
function save(key: string, v: string): void {
  try {
    localStorage.setItem(key, v)
  } catch {
    /* ignore */
  }
}

export function prefersDark(): boolean {
  return typeof window !== 'undefined' && !!window.matchMedia?.('(prefers-color-scheme: dark)').matches
}

/** Apply a theme to <html>: Element Plus reads the `dark` class. */
export function applyTheme(theme: Theme, force?: 'dark' | 'light'): void {
  const dark = force ? force === 'dark' : theme === 'dark' || (theme === 'auto' && prefersDark())
  document.documentElement.classList.toggle('dark', dark)
  document.documentElement.style.colorScheme = dark ? 'dark' : 'light'
}

export const useSettings = defineStore('settings', () => {
  const theme = ref<Theme>(load<Theme>('yw_theme', ['light', 'dark', 'auto'], 'light'))
  const locale = ref<Locale>(initialLocale())
  const sound = ref(load('yw_sound', ['on', 'off'], 'on') === 'on')
  const menuCollapsed = ref(load('yw_menu', ['collapsed', 'open'], 'open') === 'collapsed')

  watch(theme, (v) => {
    save('yw_theme', v)
    applyTheme(v)
  })
  watch(
    locale,
    (v) => {
      save('yw_locale', v)
      ;(i18n.global.locale as unknown as { value: string }).value = v
      document.documentElement.lang = v
    },
    { immediate: true },
  )
  watch(sound, (v) => save('yw_sound', v ? 'on' : 'off'))
  watch(menuCollapsed, (v) => save('yw_menu', v ? 'collapsed' : 'open'))

  function toggleTheme(): void {
    const dark = document.documentElement.classList.contains('dark')
    theme.value = dark ? 'light' : 'dark'
  }

  return { theme, locale, sound, menuCollapsed, toggleTheme }
})
