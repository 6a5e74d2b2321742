// The console's pages, grouped as the menu shows them. A module adds a page by
// adding an entry here (a generic list needs only its endpoint and columns)
// plus its strings in src/locales. See docs/api-console.md, "Adding a page".
import type { GroupDef } from './types'

const datetime = 'datetime' as const

export const groups: GroupDef[] = [
  {
    key: 'workbench',
    title: 'menu.home',
    icon: 'HomeFilled',
    path: '',
    pages: [
      { name: 'home', path: '/', title: 'menu.home', component: () => import('@/views/Home.vue') },
      { name: 'screen-link', path: '/screen', title: 'menu.screen', permission: ['dashboard.read'] },
    ],
  },
  {
    key: 'cases',
    title: 'menu.cases',
    icon: 'Tickets',
    path: '/cases',
    pages: [
      {
        name: 'case-list',
        path: '',
        title: 'menu.caseList',
        permission: 'case.read',
        list: {
          endpoint: '/api/v1/cases',
          rowLink: '/cases/detail?id={id}',
          columns: [
            { prop: 'id', label: 'fields.id', width: 90, sortable: true },
            { prop: 'title', label: 'fields.title', minWidth: 240 },
            { prop: 'category_code', label: 'fields.category', width: 110 },
            { prop: 'state_name', label: 'fields.status', width: 100, kind: 'tag' },
            { prop: 'remaining', label: 'cases.remaining', width: 120 },
            { prop: 'grid_code', label: 'fields.grid', width: 150 },
            { prop: 'created_at', label: 'fields.createdAt', width: 170, kind: datetime, sortable: true },
          ],
          filters: [
            { key: 'q', label: 'fields.keyword', kind: 'text' },
            { key: 'state', label: 'fields.status', kind: 'text' },
          ],
        },
      },
      { name: 'case-detail', path: 'detail', title: 'menu.caseDetail', permission: 'case.read', hidden: true, component: () => import('@/views/cases/CaseDetail.vue') },
      { name: 'case-intake', path: 'intake', title: 'menu.caseIntake', permission: ['case.create', 'case.assign'], component: () => import('@/views/cases/CaseIntake.vue') },
      { name: 'case-dispatch', path: 'dispatch', title: 'menu.caseDispatch', permission: 'case.dispatch', component: () => import('@/views/cases/DispatchBoard.vue') },
      {
        name: 'cases-overdue',
        path: 'overdue',
        title: 'menu.caseOverdue',
        permission: 'case.read',
        list: {
          endpoint: '/api/v1/cases/overdue',
          rowLink: '/cases/detail?id={id}',
          columns: [
            { prop: 'id', label: 'fields.id', width: 90 },
            { prop: 'title', label: 'fields.title', minWidth: 240 },
            { prop: 'state_name', label: 'fields.status', width: 100, kind: 'tag' },
            { prop: 'stage_deadline', label: 'fields.deadline', width: 170, kind: datetime },
            { prop: 'remaining', label: 'cases.remaining', width: 120 },
          ],
        },
      },
      {
        name: 'cases-evaluation',
        path: 'evaluation',
        title: 'menu.caseEvaluation',
        permission: ['case.evaluate', 'case.read'],
        component: () => import('@/views/Placeholder.vue'),
      },
    ],
  },
  {
    key: 'iot',
    title: 'menu.iot',
    icon: 'Cpu',
    path: '/iot',
    pages: [
      { name: 'devices', path: 'devices', title: 'menu.devices', permission: 'iot.read', component: () => import('@/views/iot/Devices.vue') },
      { name: 'device-map', path: 'map', title: 'menu.deviceMap', permission: 'iot.read', component: () => import('@/views/iot/DeviceMap.vue') },
      { name: 'device-detail', path: 'device', title: 'iot.deviceDetail', permission: 'iot.read', hidden: true, component: () => import('@/views/iot/DeviceDetail.vue') },
      { name: 'alarms', path: 'alarms', title: 'menu.alarms', permission: 'iot.read', component: () => import('@/views/iot/Alarms.vue') },
      { name: 'rules', path: 'rules', title: 'menu.rules', permission: ['iot.write', 'iot.rules'], component: () => import('@/views/iot/Rules.vue') },
    ],
  },
  {
    key: 'projects',
    title: 'menu.projects',
    icon: 'OfficeBuilding',
    path: '/projects',
    pages: [
      {
        name: 'project-list',
        path: '',
        title: 'menu.projectList',
        permission: 'project.read',
        list: {
          endpoint: '/api/v1/projects',
          columns: [
            { prop: 'name', label: 'fields.name', minWidth: 220 },
            { prop: 'stage', label: 'fields.stage', width: 110, kind: 'tag' },
            { prop: 'status', label: 'fields.status', width: 100, kind: 'tag' },
            { prop: 'department_name', label: 'fields.department', width: 160 },
            { prop: 'planned_investment', label: 'fields.investment', width: 140 },
            { prop: 'progress', label: 'fields.progress', width: 100, kind: 'percent' },
          ],
          filters: [{ key: 'q', label: 'fields.keyword', kind: 'text' }],
        },
      },
      { name: 'project-detail', path: 'detail', title: 'econ.projectDetail', permission: 'project.read', component: () => import('@/views/econ/ProjectDetail.vue') },
      { name: 'project-board', path: 'board', title: 'econ.projectBoard', permission: 'project.read', component: () => import('@/views/econ/ProjectBoard.vue') },
    ],
  },
  {
    key: 'investment',
    title: 'menu.investment',
    icon: 'TrendCharts',
    path: '/investment',
    pages: [
      {
        name: 'enterprises',
        path: 'enterprises',
        title: 'menu.enterprises',
        permission: 'investment.read',
        list: {
          endpoint: '/api/v1/enterprises',
          columns: [
            { prop: 'name', label: 'fields.name', minWidth: 220 },
            { prop: 'credit_code', label: 'fields.creditCode', width: 200 },
            { prop: 'industry', label: 'fields.industry', width: 140 },
            { prop: 'chain_name', label: 'fields.chain', width: 140 },
          ],
          filters: [{ key: 'q', label: 'fields.keyword', kind: 'text' }],
        },
      },
      {
        name: 'leads',
        path: 'leads',
        title: 'menu.leads',
        permission: 'investment.read',
        list: {
          endpoint: '/api/v1/leads',
          columns: [
            { prop: 'name', label: 'fields.name', minWidth: 220 },
            { prop: 'stage', label: 'fields.stage', width: 110, kind: 'tag' },
            { prop: 'industry', label: 'fields.industry', width: 140 },
            { prop: 'expected_investment', label: 'econ.expected', width: 120, sortable: true },
            { prop: 'probability', label: 'econ.probability', width: 90, kind: 'percent' },
            { prop: 'updated_at', label: 'fields.updatedAt', width: 170, kind: datetime, sortable: true },
          ],
        },
      },
      { name: 'chains', path: 'chains', title: 'menu.chains', permission: 'investment.read', component: () => import('@/views/econ/Chains.vue') },
      { name: 'investment-dashboard', path: 'dashboard', title: 'econ.investDashboard', permission: 'investment.read', component: () => import('@/views/econ/InvestmentDashboard.vue') },
    ],
  },
  {
    key: 'kb',
    title: 'menu.kb',
    icon: 'Reading',
    path: '/kb',
    pages: [
      { name: 'kb-search', path: 'search', title: 'menu.kbSearch', permission: 'kb.read', component: () => import('@/views/kb/Search.vue') },
      {
        name: 'kb-documents',
        path: '',
        title: 'menu.kbDocuments',
        permission: 'kb.read',
        list: {
          endpoint: '/api/v1/kb/documents',
          rowLink: '/kb/reader?id={id}',
          columns: [
            { prop: 'title', label: 'fields.title', minWidth: 260 },
            { prop: 'doc_number', label: 'fields.docNumber', width: 180 },
            { prop: 'issuer', label: 'fields.issuer', width: 160 },
            { prop: 'validity', label: 'fields.validity', width: 110, kind: 'tag' },
            { prop: 'date', label: 'fields.date', width: 120 },
          ],
          filters: [{ key: 'q', label: 'fields.keyword', kind: 'text' }],
        },
      },
      { name: 'kb-reader', path: 'reader', title: 'menu.kbReader', permission: 'kb.read', hidden: true, component: () => import('@/views/kb/Reader.vue') },
      { name: 'kb-import', path: 'import', title: 'menu.kbImport', permission: 'kb.write', component: () => import('@/views/kb/Import.vue') },
      { name: 'kb-synonyms', path: 'synonyms', title: 'menu.kbSynonyms', permission: 'kb.write', component: () => import('@/views/kb/Synonyms.vue') },
    ],
  },
  {
    key: 'duty',
    title: 'menu.duty',
    icon: 'Calendar',
    path: '/duty',
    pages: [
      {
        name: 'roster',
        path: 'roster',
        title: 'menu.roster',
        permission: 'duty.read',
        list: {
          endpoint: '/api/v1/duty/roster',
          columns: [
            { prop: 'date', label: 'fields.date', width: 120 },
            { prop: 'shift', label: 'fields.shift', width: 120 },
            { prop: 'user_name', label: 'fields.onDuty', minWidth: 140 },
            { prop: 'department_name', label: 'fields.department', width: 160 },
            { prop: 'phone', label: 'fields.phone', width: 140 },
          ],
        },
      },
      { name: 'handover', path: 'handover', title: 'menu.handover', permission: 'duty.read', component: () => import('@/views/duty/Handover.vue') },
      { name: 'messages', path: 'messages', title: 'menu.messages', permission: 'duty.read', component: () => import('@/views/duty/Messages.vue') },
    ],
  },
  {
    key: 'system',
    title: 'menu.system',
    icon: 'Setting',
    path: '/system',
    pages: [
      {
        name: 'departments',
        path: 'departments',
        title: 'menu.departments',
        permission: ['org.read', 'org.write'],
        list: {
          endpoint: '/api/v1/departments',
          columns: [
            { prop: 'id', label: 'fields.id', width: 90, sortable: true },
            { prop: 'name', label: 'fields.name', minWidth: 200, sortable: true },
            { prop: 'code', label: 'fields.code', width: 160 },
            { prop: 'kind', label: 'fields.type', width: 120, kind: 'tag' },
            { prop: 'phone', label: 'fields.phone', width: 140 },
          ],
          filters: [{ key: 'q', label: 'fields.keyword', kind: 'text' }],
        },
      },
      {
        name: 'grids',
        path: 'grids',
        title: 'menu.grids',
        permission: ['org.read', 'org.write'],
        list: {
          endpoint: '/api/v1/grids',
          columns: [
            { prop: 'code', label: 'fields.code', width: 170, sortable: true },
            { prop: 'name', label: 'fields.name', minWidth: 200, sortable: true },
            { prop: 'level', label: 'fields.level', width: 110, kind: 'tag' },
            { prop: 'parent_code', label: 'fields.parent', width: 180 },
          ],
          filters: [
            { key: 'q', label: 'fields.keyword', kind: 'text' },
            {
              key: 'level',
              label: 'fields.level',
              kind: 'select',
              options: [
                { value: '1', label: 'gridLevels.1' },
                { value: '2', label: 'gridLevels.2' },
                { value: '3', label: 'gridLevels.3' },
                { value: '4', label: 'gridLevels.4' },
              ],
            },
          ],
        },
      },
      {
        name: 'users',
        path: 'users',
        title: 'menu.users',
        permission: ['user.read', 'user.write'],
        list: {
          endpoint: '/api/v1/users',
          columns: [
            { prop: 'username', label: 'fields.username', width: 150, sortable: true },
            { prop: 'name', label: 'fields.displayName', width: 150, sortable: true, fallback: ['display_name'] },
            { prop: 'roles', label: 'fields.roles', minWidth: 200, kind: 'roles' },
            { prop: 'dept_name', label: 'fields.department', width: 180, fallback: ['department_name'] },
            { prop: 'last_login_at', label: 'fields.lastLogin', width: 170, kind: datetime, sortable: true },
            { prop: 'disabled', label: 'fields.disabled', width: 90, kind: 'bool' },
          ],
          filters: [{ key: 'q', label: 'fields.keyword', kind: 'text' }],
        },
      },
      { name: 'indicators', path: 'indicators', title: 'menu.indicators', permission: ['dashboard.write', 'system.admin'], component: () => import('@/views/dashboard/Indicators.vue') },
      {
        name: 'operations',
        path: 'operations',
        title: 'menu.operations',
        permission: 'system.admin',
        component: () => import('@/views/Operations.vue'),
      },
      { name: 'plugins', path: 'plugins', title: 'menu.plugins', permission: 'system.admin', component: () => import('@/views/plugins/Plugins.vue') },
      {
        name: 'audit',
        path: 'audit',
        title: 'menu.audit',
        permission: 'audit.read',
        list: {
          endpoint: '/api/v1/audit',
          rowKey: 'index',
          columns: [
            { prop: 'index', label: 'fields.id', width: 90 },
            { prop: 'time', label: 'fields.time', width: 170, kind: datetime },
            { prop: 'actor_name', label: 'fields.actor', width: 160, fallback: ['actor'] },
            { prop: 'type', label: 'fields.action', minWidth: 200 },
            { prop: 'error.code', label: 'fields.result', width: 120, kind: 'tag' },
          ],
          filters: [
            { key: 'q', label: 'fields.keyword', kind: 'text' },
            { key: 'type', label: 'fields.action', kind: 'text' },
            { key: 'actor', label: 'fields.actor', kind: 'text' },
          ],
        },
      },
    ],
  },
]

/** Full path of a page: absolute paths as they are, others under the group. */
export function pagePath(group: GroupDef, page: { path: string }): string {
  if (page.path.startsWith('/')) return page.path
  const p = [group.path, page.path].filter(Boolean).join('/')
  return p.startsWith('/') ? p : '/' + p
}
