// Pure logic of the case pages: which form fields each workflow action
// needs, the request body built from a form, SLA tags, upload helpers.
// The server (app/cases) stays the authority: it lists the allowed actions
// and refuses illegal transitions with 409.
import { ApiError, authHeaders, buildUrl, toApiError } from '@/api/client'

/** Form fields an action asks for. */
export interface ActionSpec {
  reason?: boolean // required reason (改派, 回退, 返工, 延期申请/驳回, 挂账, 作废)
  dept?: 'required' | 'optional' // department (派遣 override, 改派)
  category?: boolean // 立案: 小类 and 立案条件
  score?: boolean // 评价 1–5
  extension?: boolean // 延期申请: how much more time
  target?: boolean // 合并: the duplicated case
  attachments?: boolean // photos (处置反馈, 补充材料)
  danger?: boolean // button shown in red
}

export const ACTION_SPECS: Record<string, ActionSpec> = {
  register: { category: true },
  dispatch: { dept: 'optional' },
  reassign: { reason: true, dept: 'required', danger: true },
  return: { reason: true, danger: true },
  accept: {},
  feedback: { attachments: true },
  verify: {},
  rework: { reason: true, danger: true },
  close: {},
  evaluate: { score: true },
  extend_request: { reason: true, extension: true },
  extend_approve: {},
  extend_reject: { reason: true },
  park: { reason: true },
  unpark: {},
  void: { reason: true, danger: true },
  merge: { target: true, danger: true },
  note: { attachments: true },
  urge: {},
  supervise: {},
}

/** The order buttons are shown in (main flow first, then the rest). */
export const ACTION_ORDER = Object.keys(ACTION_SPECS)

export function specOf(action: string): ActionSpec {
  return ACTION_SPECS[action] ?? {}
}

export function needsReason(action: string): boolean {
  return !!specOf(action).reason
}

/** The allowed actions in display order; unknown names (newer server) last. */
export function orderActions(allowed: string[] | undefined): string[] {
  const a = allowed ?? []
  const known = ACTION_ORDER.filter((x) => a.includes(x))
  return known.concat(a.filter((x) => !ACTION_ORDER.includes(x)))
}

export interface ActionForm {
  note: string
  reason: string
  dept_id?: number
  category_code: string
  condition_id?: number
  score: number
  ext_value: number
  ext_unit: string
  target_id?: number
  attachments: number[]
}

export function emptyForm(): ActionForm {
  return { note: '', reason: '', category_code: '', score: 5, ext_value: 1, ext_unit: 'work_days', attachments: [] }
}

/** i18n key of the first problem of the form for action, or '' when it can be sent. */
export function validateAction(action: string, f: ActionForm): string {
  const s = specOf(action)
  if (s.reason && !f.reason.trim()) return 'cases.needReason'
  if (s.dept === 'required' && !f.dept_id) return 'cases.needDept'
  if (s.category && !f.category_code) return 'cases.needCategory'
  if (s.score && !(f.score >= 1 && f.score <= 5)) return 'cases.needScore'
  if (s.extension && !(f.ext_value > 0)) return 'cases.needExtension'
  if (s.target && !f.target_id) return 'cases.needTarget'
  return ''
}

/** The body of POST /api/v1/cases/{id}/actions/{action}: only the fields the action uses. */
export function actionBody(action: string, f: ActionForm): Record<string, unknown> {
  const s = specOf(action)
  const b: Record<string, unknown> = {}
  if (f.note.trim()) b.note = f.note.trim()
  if (s.reason && f.reason.trim()) b.reason = f.reason.trim()
  if (s.dept && f.dept_id) b.dept_id = f.dept_id
  if (s.category) {
    if (f.category_code) b.category_code = f.category_code
    if (f.condition_id) b.condition_id = f.condition_id
  }
  if (s.score) b.score = f.score
  if (s.extension) b.extension = { value: f.ext_value, unit: f.ext_unit }
  if (s.target && f.target_id) b.target_id = f.target_id
  if (f.attachments.length) b.attachments = [...f.attachments]
  return b
}

/** Element Plus tag type of an SLA status (ok, warning 临期, overdue 超期). */
export function slaTagType(s: string | undefined): 'success' | 'warning' | 'danger' | 'info' {
  if (s === 'ok') return 'success'
  if (s === 'warning') return 'warning'
  if (s === 'overdue') return 'danger'
  return 'info'
}

export function isImage(mime: string | undefined): boolean {
  return !!mime && mime.startsWith('image/')
}

/**
 * The message to show for a failed action: the server's own message for a
 * 409 (illegal transition: it names the state and allowed actions), else the
 * usual localized one.
 */
export function actionError(err: unknown, fallback: (e: unknown) => string): string {
  if (err instanceof ApiError && err.status === 409 && err.serverMessage) return err.serverMessage
  return fallback(err)
}

export interface Attachment {
  id: number
  mime: string
  size: number
  name?: string
  phase?: string
  url?: string
  uploaded_by?: string
  created_at?: string
}

/** Upload one file as a raw body (POST /api/v1/cases/attachments). */
export async function uploadAttachment(file: Blob, name: string, phase = ''): Promise<Attachment> {
  const q: Record<string, string> = { name }
  if (phase) q.phase = phase
  const res = await fetch(buildUrl('/api/v1/cases/attachments', q), {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json', ...authHeaders() },
    body: file,
    credentials: 'same-origin',
  })
  if (!res.ok) throw await toApiError(res)
  return (await res.json()) as Attachment
}

/** An object URL of an attachment fetched with the session's credentials (revoke when done). */
export async function attachmentBlobUrl(url: string): Promise<string> {
  const res = await fetch(buildUrl(url), { headers: authHeaders(), credentials: 'same-origin' })
  if (!res.ok) throw await toApiError(res)
  return URL.createObjectURL(await res.blob())
}

/** Does a live event concern case id? (case.* events carry case_id.) */
export function eventCaseId(data: unknown): number | undefined {
  if (data && typeof data === 'object') {
    const d = data as { case_id?: unknown; case?: { id?: unknown } }
    if (typeof d.case_id === 'number') return d.case_id
    if (d.case && typeof d.case.id === 'number') return d.case.id
  }
  return undefined
}
