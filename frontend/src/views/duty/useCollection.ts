// Shared by the duty pages and the indicator configuration: a collection
// loaded into refs (with loading and error state), and writes that show
// the server's per-field errors, a success message, and reload the list.
import { ref, type Ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { api, errorMessage, fieldMessages, type Page, type Query } from '@/api/client'

export function useCollection<T>(endpoint: string, query: Query = { limit: 50 }) {
  const { t, te } = useI18n()
  const items = ref([]) as Ref<T[]>
  const total = ref(0)
  const loading = ref(false)
  const error = ref('')
  const saving = ref(false)
  const fieldErrors = ref<Record<string, string>>({})

  async function load(): Promise<void> {
    loading.value = true
    try {
      const p = await api.get<Page<T>>(endpoint, query)
      items.value = p.items
      total.value = p.total
      error.value = ''
    } catch (e) {
      error.value = errorMessage(e, t, te)
    } finally {
      loading.value = false
    }
  }

  /** Runs a form's write; true when it succeeded (then okKey is shown and the list reloaded). */
  async function submit(write: () => Promise<unknown>, okKey?: string): Promise<boolean> {
    saving.value = true
    fieldErrors.value = {}
    try {
      await write()
      if (okKey) ElMessage.success(t(okKey))
      await load()
      return true
    } catch (e) {
      fieldErrors.value = fieldMessages(e, t, te)
      ElMessage.error(errorMessage(e, t, te))
      return false
    } finally {
      saving.value = false
    }
  }

  /** Runs a row action (no form); errors become a message. */
  async function act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action()
      await load()
    } catch (e) {
      ElMessage.error(errorMessage(e, t, te))
    }
  }

  return { items, total, loading, error, saving, fieldErrors, load, submit, act }
}
