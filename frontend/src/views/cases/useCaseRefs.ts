// Reference data the case pages share: departments and the category tree.
import { ref } from 'vue'
import { api, type Page } from '@/api/client'

export interface Dept { id: number; name: string }
export interface Condition { id: number; text: string; limit: { value: number; unit: string }; close_text: string }
export interface Category { code: string; name: string; level: number; kind: string; conditions?: Condition[]; children?: Category[] }

export function useCaseRefs() {
  const depts = ref<Dept[]>([])
  const categories = ref<Category[]>([])
  async function loadDepts(): Promise<void> {
    const p = await api.get<Page<Dept>>('/api/v1/departments', { limit: 500 })
    depts.value = p.items ?? []
  }
  async function loadCategories(): Promise<void> {
    categories.value = (await api.get<Category[]>('/api/v1/cases/categories')) ?? []
  }
  const deptName = (id?: number) => (id ? depts.value.find((d) => d.id === id)?.name ?? `#${id}` : '')
  function minor(code: string): Category | undefined {
    for (const c of categories.value) for (const m of c.children ?? []) if (m.code === code) return m
    return undefined
  }
  return { depts, categories, loadDepts, loadCategories, deptName, minor }
}
