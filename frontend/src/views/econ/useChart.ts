// A chart bound to an element ref, resized with the window and disposed
// with the component.
import { onMounted, onUnmounted, shallowRef, type Ref } from 'vue'
import { init, type ECharts } from '@/charts/econ'

export function useChart(el: Ref<HTMLElement | undefined>) {
  const chart = shallowRef<ECharts>()
  const resize = () => chart.value?.resize()
  onMounted(() => window.addEventListener('resize', resize))
  onUnmounted(() => {
    window.removeEventListener('resize', resize)
    chart.value?.dispose()
  })
  return (option: Record<string, unknown>) => {
    if (!el.value) return
    if (!chart.value) chart.value = init(el.value)
    chart.value.setOption(option, true)
  }
}
