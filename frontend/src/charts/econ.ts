// ECharts parts of the economic pages (重大项目, 招商): bar, line and pie
// charts on top of what src/charts/echarts.ts registers.
import { use } from 'echarts/core'
import { BarChart, LineChart, PieChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

export { init, type ECharts } from './echarts'
