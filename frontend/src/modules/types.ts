import type { Component } from 'vue'

/** A table column of a generic list page; label is an i18n key. */
export interface ListColumn {
  prop: string
  label: string
  width?: number
  minWidth?: number
  /** How to render the cell: plain text (default), date-time, tag, list of roles, percentage. */
  kind?: 'text' | 'datetime' | 'tag' | 'roles' | 'percent' | 'bool'
  /** Offer sorting by this column: sends sort=prop / sort=-prop. Only for
   * keys the endpoint declares (the server refuses unknown sort keys). */
  sortable?: boolean
  /** Other props to show when prop is empty (e.g. actor_name, then actor). */
  fallback?: string[]
}

export interface ListFilter {
  /** Query parameter name sent to the API. */
  key: string
  /** i18n key of the label. */
  label: string
  kind: 'text' | 'select'
  /** For select: values and i18n keys of their labels. */
  options?: { value: string; label: string }[]
}

export interface ListConfig {
  /** Collection endpoint answering {items,total} with limit/offset. */
  endpoint: string
  columns: ListColumn[]
  filters?: ListFilter[]
  rowKey?: string
  pageSize?: number
  /** Default sort, e.g. "-created_at" (omit to use the server's default). */
  sort?: string
  /** Open this route when a row is clicked; {prop} is replaced by the row's value, e.g. '/cases/detail?id={id}'. */
  rowLink?: string
}

export interface PageDef {
  /** Route name, unique. */
  name: string
  /** Path relative to the group (or absolute when it starts with '/'). */
  path: string
  /** i18n key of the title (menu, breadcrumb, page heading). */
  title: string
  /** Permission(s) needed: any one of them. Omit for every signed-in user. */
  permission?: string | string[]
  /** A page component, or… */
  component?: () => Promise<{ default: Component }>
  /** …a generic list page driven by this config. */
  list?: ListConfig
  /** Route exists but is not shown in the menu. */
  hidden?: boolean
}

export interface GroupDef {
  key: string
  /** i18n key. */
  title: string
  /** Icon name from @element-plus/icons-vue (see layouts/icons.ts). */
  icon: string
  /** Top-level path prefix, e.g. '/cases'. */
  path: string
  pages: PageDef[]
}
