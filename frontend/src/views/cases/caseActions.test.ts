import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/client'
import { actionBody, actionError, emptyForm, eventCaseId, needsReason, orderActions, slaTagType, validateAction } from './caseActions'

describe('case action forms', () => {
  it('asks a reason for exactly the actions the server requires one for', () => {
    // app/cases ActionInput: "required for reassign, return, rework, extend_request, extend_reject, park, void"
    const want = ['reassign', 'return', 'rework', 'extend_request', 'extend_reject', 'park', 'void']
    for (const a of want) expect(needsReason(a), a).toBe(true)
    for (const a of ['register', 'dispatch', 'accept', 'feedback', 'verify', 'close', 'evaluate', 'note', 'urge', 'supervise']) {
      expect(needsReason(a), a).toBe(false)
    }
  })

  it('validates required fields', () => {
    const f = emptyForm()
    expect(validateAction('void', f)).toBe('cases.needReason')
    f.reason = '  重复上报 '
    expect(validateAction('void', f)).toBe('')
    expect(validateAction('reassign', f)).toBe('cases.needDept')
    f.dept_id = 3
    expect(validateAction('reassign', f)).toBe('')
    expect(validateAction('dispatch', emptyForm())).toBe('')
    expect(validateAction('merge', emptyForm())).toBe('cases.needTarget')
    expect(validateAction('register', emptyForm())).toBe('cases.needCategory')
    expect(validateAction('register', { ...emptyForm(), category_code: 'C0101' })).toBe('')
  })

  it('sends only the fields an action uses', () => {
    const f = { ...emptyForm(), note: ' 已到现场 ', reason: '不属本部门', dept_id: 7, score: 4, attachments: [9] }
    expect(actionBody('dispatch', f)).toEqual({ note: '已到现场', dept_id: 7, attachments: [9] })
    expect(actionBody('return', f)).toEqual({ note: '已到现场', reason: '不属本部门', attachments: [9] })
    expect(actionBody('evaluate', { ...emptyForm(), score: 4 })).toEqual({ score: 4 })
    expect(actionBody('extend_request', { ...emptyForm(), reason: 'r', ext_value: 2, ext_unit: 'work_days' })).toEqual({
      reason: 'r',
      extension: { value: 2, unit: 'work_days' },
    })
  })

  it('orders allowed actions and keeps unknown ones', () => {
    expect(orderActions(['note', 'void', 'register', 'future'])).toEqual(['register', 'void', 'note', 'future'])
    expect(orderActions(undefined)).toEqual([])
  })

  it('shows the server message for 409 and the fallback otherwise', () => {
    const fb = () => 'fallback'
    expect(actionError(new ApiError(409, 'conflict', 'case 3 is dispatched: allowed accept, return'), fb)).toBe(
      'case 3 is dispatched: allowed accept, return',
    )
    expect(actionError(new ApiError(403, 'forbidden', 'no'), fb)).toBe('fallback')
    expect(actionError(new Error('x'), fb)).toBe('fallback')
  })

  it('maps SLA status and live events', () => {
    expect(slaTagType('overdue')).toBe('danger')
    expect(slaTagType('warning')).toBe('warning')
    expect(slaTagType('ok')).toBe('success')
    expect(slaTagType(undefined)).toBe('info')
    expect(eventCaseId({ case_id: 5 })).toBe(5)
    expect(eventCaseId({ case: { id: 6 } })).toBe(6)
    expect(eventCaseId(null)).toBeUndefined()
  })
})
