// Icons used by the menu, imported one by one to keep the bundle small.
import { Calendar, Cpu, HomeFilled, Monitor, OfficeBuilding, Reading, Setting, Tickets, TrendCharts } from '@element-plus/icons-vue'
import type { Component } from 'vue'

export const menuIcons: Record<string, Component> = { Calendar, Cpu, HomeFilled, Monitor, OfficeBuilding, Reading, Setting, Tickets, TrendCharts }
