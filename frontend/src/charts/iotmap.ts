// ECharts parts of the device map: scatter points over the grid outline
// (geo component), on top of what src/charts/echarts.ts registers.
import { use } from 'echarts/core'
import { ScatterChart } from 'echarts/charts'
import { GeoComponent, LegendComponent } from 'echarts/components'

use([ScatterChart, GeoComponent, LegendComponent])

export { init, registerMap, type ECharts } from './echarts'
