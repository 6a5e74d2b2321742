// ECharts, modular: only the charts and components the console uses.
import { use, init, registerMap, type ECharts } from 'echarts/core'
import { MapChart, FunnelChart, GaugeChart } from 'echarts/charts'
import { TooltipComponent, VisualMapComponent, TitleComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

use([MapChart, FunnelChart, GaugeChart, TooltipComponent, VisualMapComponent, TitleComponent, CanvasRenderer])

export { init, registerMap }
export type { ECharts }
